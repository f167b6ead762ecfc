"""Projects: the YAML files that say which layers a server publishes, and how they are loaded."""

from ogcserve.projects.config import FieldsConfig, LayerConfig, ProjectConfig, WCSConfig, WFSConfig
from ogcserve.projects.loader import (
    OpenSource,
    ProjectError,
    ProjectIssue,
    check_project,
    load_project,
)
from ogcserve.projects.model import Layer, Project
from ogcserve.projects.store import ProjectLoader, ProjectStore

__all__ = [
    "FieldsConfig",
    "Layer",
    "LayerConfig",
    "OpenSource",
    "Project",
    "ProjectConfig",
    "ProjectError",
    "ProjectIssue",
    "ProjectLoader",
    "ProjectStore",
    "WCSConfig",
    "WFSConfig",
    "check_project",
    "load_project",
]
