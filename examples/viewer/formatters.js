// Custom result formatters of the atlas example: (value, field, layer, feature) => html.
// The fifth argument holds helpers; escapeHtml makes a value safe inside markup.

export function wikipediaLink(value, field, layer, feature, { escapeHtml }) {
  const href = `https://en.wikipedia.org/wiki/${encodeURIComponent(String(value).replaceAll(" ", "_"))}`;
  return `<a class="wiki" href="${escapeHtml(href)}" target="_blank" rel="noopener">${escapeHtml(value)} (Wikipedia)</a>`;
}

// Throws on purpose: the viewer shows the raw value and logs the error to the console.
export function brokenFormatter(value) {
  throw new Error(`cannot format ${value}`);
}
