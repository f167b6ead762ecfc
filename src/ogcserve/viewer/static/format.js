// Result formatters: per layer and field, a list of formatters turns a value into HTML, the same
// in identify results and search grids. Text is escaped; only a formatter that means to return
// markup (link, image, e-mail, a custom function) does. A formatter that throws leaves the raw
// value, escaped, and says why on the console.

export function escapeHtml(value) {
  return String(value ?? "").replace(/[&<>"']/g, (c) =>
    ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

const SAFE_URL = /^(https?:|mailto:|\/|\.\/|\.\.\/)/i;

function safeUrl(url) {
  if (!SAFE_URL.test(url)) throw new Error(`not a link: ${url}`);
  return url;
}

// `{value}` and `{field name}` in a template; `encode` applies to what is substituted.
function fill(template, value, feature, encode = (v) => v) {
  return template.replace(/\{([^{}]+)\}/g, (_, name) => {
    const found = name === "value" ? value : feature.properties?.[name];
    return encode(String(found ?? ""));
  });
}

const BUILT_IN = {
  link: (v, o, f) => {
    const href = o.href ? fill(o.href, v, f, encodeURIComponent) : String(v);
    const label = fill(o.label || "{value}", v, f);
    return { html: `<a href="${escapeHtml(safeUrl(href))}" target="_blank" rel="noopener">${escapeHtml(label)}</a>` };
  },
  image: (v, o) => {
    const src = escapeHtml(safeUrl(String(v)));
    return { html: `<a href="${src}" target="_blank" rel="noopener"><img class="thumb" src="${src}" width="${o.width || 120}" alt="" loading="lazy"></a>` };
  },
  email: (v) => {
    const address = String(v);
    if (!/^[^\s@<>"]+@[^\s@<>"]+$/.test(address)) throw new Error(`not an e-mail address: ${address}`);
    return { html: `<a href="mailto:${escapeHtml(address)}">${escapeHtml(address)}</a>` };
  },
  number: (v, o) => {
    const n = Number(v);
    if (v === null || v === "" || Number.isNaN(n)) throw new Error(`not a number: ${v}`);
    const digits = o.decimals ?? undefined;
    const options = digits === undefined ? {} : { minimumFractionDigits: digits, maximumFractionDigits: digits };
    return { text: new Intl.NumberFormat(o.locale, options).format(n) };
  },
  date: (v, o) => {
    const d = new Date(v);
    if (v === null || Number.isNaN(d.getTime())) throw new Error(`not a date: ${v}`);
    return { text: new Intl.DateTimeFormat(o.locale, { dateStyle: o.style || "medium" }).format(d) };
  },
  map: (v, o) => ({ text: Object.hasOwn(o.values, String(v)) ? o.values[String(v)] : String(v ?? "") }),
  template: (v, o, f) => ({ text: fill(o.template, v, f) }),
};

function auto(value) {
  if (typeof value === "string" && /^https?:\/\/\S+$/i.test(value)) {
    const v = escapeHtml(value);
    return `<a href="${v}" target="_blank" rel="noopener">${v}</a>`;
  }
  return escapeHtml(value ?? "");
}

export class Formatters {
  // `config`: {layer: {field: [formatter, ...]}}; `functions`: the custom modules' exports.
  constructor(config, functions) {
    this.config = config || {};
    this.functions = functions || {};
  }

  format(value, field, layer, feature) {
    const chain = this.config[layer]?.[field];
    if (!chain || !chain.length) return auto(value);
    try {
      return this.run(chain, value, field, layer, feature);
    } catch (error) {
      console.error(`formatter of ${layer}.${field} failed, showing the raw value:`, error);
      return escapeHtml(value ?? "");
    }
  }

  run(chain, value, field, layer, feature) {
    let out = { text: value };
    for (const spec of chain) {
      const current = out.html ?? out.text;
      if (spec.type === "custom") {
        const fn = this.functions[spec.function];
        if (typeof fn !== "function") throw new Error(`no formatter function ${spec.function}`);
        const result = fn(current, field, layer, feature, { escapeHtml });
        out = { html: String(result ?? "") };
      } else {
        out = BUILT_IN[spec.type](current, spec, feature);
      }
    }
    return out.html ?? auto(out.text);
  }
}
