"""forkhorn's evaluator of a Python config file (gunicorn.conf.py).

Runs the file as gunicorn does (a module named __config__ loaded from the file, whatever its
name) and returns a JSON report of its module-level names, in the shapes of forkhorn's
config::python_file::Report (serde's externally tagged enums).
"""

import ast
import importlib.util
import json
import math
import sys
import traceback
import types
from importlib.machinery import SourceFileLoader

# What a setting can hold is TOML's types; 64-bit integers are what the report carries.
INT_MIN, INT_MAX = -(2**63), 2**63 - 1


# gunicorn's `-c python:MODULE`: a module imported by name (from the working directory,
# pythonpath or the virtualenv) rather than a file.
MODULE_PREFIX = "python:"


def evaluate(location):
    # Reading a config file must not write __pycache__ beside it (often under /etc).
    sys.dont_write_bytecode = True
    path = source_path(location)
    install_gunicorn_stand_in()
    try:
        namespace = run(location)
    except BaseException as e:  # SystemExit and KeyboardInterrupt are the file's failures too.
        return json.dumps({"Raised": failure(path, e)})
    finally:
        # The process ends without finalising Python: what the file printed must be out now.
        sys.stdout.flush()
        sys.stderr.flush()
    lines = assignment_lines(path) if path else {}
    imported = gunicorn_containers()
    names = [
        {"name": name, "line": lines.get(name), "value": convert_top(value)}
        for name, value in list(namespace.items())
        if not name.startswith("_") and (name, id(value)) not in imported
    ]
    # `gunicorn.SERVER = "..."`: the Server header, unless the file sets server_header itself.
    server = gunicorn_server_name()
    if server is not None and "server_header" not in namespace:
        names.append({"name": "server_header", "line": None, "value": {"Str": server}})
    return json.dumps({"Names": names})


def gunicorn_containers():
    """The dicts and lists the gunicorn package exports (`CONFIG_DEFAULTS`, ...), as (name,
    id): one the file imports under its own name is no setting of its own, and deserves no
    warning, while a setting assigned one (`logconfig_dict = CONFIG_DEFAULTS`) is a setting.
    (Only containers: an int or a str is the same object wherever it is written.)"""
    found = set()
    for name, module in list(sys.modules.items()):
        if name == "gunicorn" or name.startswith("gunicorn."):
            found.update((k, id(v)) for k, v in vars(module).items() if isinstance(v, (dict, list)))
    return found


def source_path(location):
    """The file the code runs from, for line numbers; None if it has no source file."""
    if not location.startswith(MODULE_PREFIX):
        return location
    try:
        spec = importlib.util.find_spec(location[len(MODULE_PREFIX):])
    except Exception:  # A missing parent package: the import itself reports it.
        return None
    if spec is None or not spec.has_location or not str(spec.origin).endswith(".py"):
        return None
    return spec.origin


def run(location):
    if location.startswith(MODULE_PREFIX):
        return vars(importlib.import_module(location[len(MODULE_PREFIX):]))
    loader = SourceFileLoader("__config__", location)
    spec = importlib.util.spec_from_file_location("__config__", location, loader=loader)
    module = importlib.util.module_from_spec(spec)
    sys.modules["__config__"] = module
    spec.loader.exec_module(module)
    return vars(module)


def failure(path, e):
    """The traceback's last line, and the line of the file where it raised."""
    message = traceback.format_exception_only(type(e), e)[-1].strip()
    line = None
    if isinstance(e, SyntaxError) and path is not None and e.filename == path:
        line = e.lineno
    else:
        tb = e.__traceback__
        while tb is not None:
            if tb.tb_frame.f_code.co_filename == path:
                line = tb.tb_lineno
            tb = tb.tb_next
    return {"line": line, "message": message}


def assignment_lines(path):
    """The last line at module level (not inside a def or class) that binds each name."""
    with open(path, "rb") as f:
        tree = ast.parse(f.read(), path)
    lines = {}

    def note(name, lineno):
        lines[name] = max(lines.get(name, 0), lineno)

    def visit(node):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                note(child.name, child.lineno)
                continue
            if isinstance(child, ast.Lambda):
                continue
            if isinstance(child, ast.Name) and isinstance(child.ctx, ast.Store):
                note(child.id, child.lineno)
            visit(child)

    visit(tree)
    return lines


def convert_top(value):
    try:
        return convert(value)
    except RecursionError:
        return {"Other": "value nested too deeply"}


def convert(value):
    if value is None:
        return "None"
    if isinstance(value, bool):
        return {"Bool": value}
    if isinstance(value, int):
        if INT_MIN <= value <= INT_MAX:
            return {"Int": value}
        return {"Other": "int too large for 64 bits"}
    if isinstance(value, float):
        if math.isfinite(value):
            return {"Float": value}
        return {"Other": "float " + repr(value)}
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return {"Other": "str that is not valid UTF-8"}
        return {"Str": value}
    if isinstance(value, (list, tuple)):
        return {"List": [convert(item) for item in value]}
    if isinstance(value, dict):
        if all(isinstance(key, str) for key in value):
            return {"Dict": [[key, convert(item)] for key, item in value.items()]}
        return {"Other": "dict with keys that are not strings"}
    if isinstance(value, types.ModuleType):
        return "Module"
    if isinstance(value, type):
        return {"Class": value.__module__ + "." + value.__qualname__}
    if callable(value):
        return "Callable"
    return {"Other": type(value).__name__}
