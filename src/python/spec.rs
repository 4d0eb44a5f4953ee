//! The app spec, as gunicorn reads it: `module.path:callable`, `module:factory()` or
//! `module:factory(literal args)`; `module` alone means `module:application`. Importing it
//! turns every failure into one line saying what is missing.

use super::LoadError;
use pyo3::exceptions::{PyAttributeError, PyImportError, PySyntaxError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

/// A spec split into its module and the expression naming the application in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppSpec {
    /// The dotted module path.
    pub module: String,
    /// `name` or `name(args)`.
    pub object: String,
}

/// Splits `spec`; checks what can be checked without Python.
pub fn parse(spec: &str) -> Result<AppSpec, LoadError> {
    let (module, object) = match spec.split_once(':') {
        Some((m, o)) => (m.trim(), o.trim()),
        None => (spec.trim(), "application"),
    };
    let invalid = |reason: String| LoadError::ParseSpec {
        spec: spec.to_owned(),
        reason,
    };
    if let Some(stem) = module.strip_suffix(".py") {
        return Err(invalid(format!(
            "a module is named without \".py\"; did you mean '{stem}:{object}'?"
        )));
    }
    // An identifier, or with dashes after its first character: the import system finds
    // `helloworld-test.py` by that name, as gunicorn's `importlib.import_module` does.
    let is_module_name = |s: &str| {
        s.chars().next().is_some_and(|c| c == '_' || c.is_alphabetic())
            && s.chars().all(|c| c == '_' || c == '-' || c.is_alphanumeric())
    };
    if !module.split('.').all(is_module_name) {
        return Err(invalid("expected module.path:callable".to_owned()));
    }
    if object.is_empty() {
        return Err(invalid("nothing after ':'".to_owned()));
    }
    Ok(AppSpec {
        module: module.to_owned(),
        object: object.to_owned(),
    })
}

/// Imports the module and evaluates the object expression: the WSGI callable.
pub fn import(py: Python<'_>, spec: &AppSpec) -> Result<Py<PyAny>, LoadError> {
    let module = py.import(spec.module.as_str()).map_err(|e| LoadError::ImportModule {
        module: spec.module.clone(),
        reason: describe(py, &e, is_not_there(py, &e, &spec.module)),
    })?;
    let (name, call) = parse_expression(py, spec)?;
    let mut app = module.getattr(name.as_str()).map_err(|e| {
        if e.is_instance_of::<PyAttributeError>(py) {
            LoadError::FindAttribute {
                name: name.clone(),
                module: spec.module.clone(),
            }
        } else {
            LoadError::ImportModule {
                module: spec.module.clone(),
                reason: describe(py, &e, false),
            }
        }
    })?;
    if let Some((args, kwargs)) = call {
        app = app.call(args, Some(&kwargs)).map_err(|e| LoadError::CallFactory {
            expression: spec.object.clone(),
            reason: describe(py, &e, false),
        })?;
    }
    if app.is_none() {
        return Err(LoadError::FindApplication {
            expression: spec.object.clone(),
            module: spec.module.clone(),
        });
    }
    if !app.is_callable() {
        return Err(LoadError::CallApplication {
            expression: spec.object.clone(),
        });
    }
    Ok(app.unbind())
}

/// The attribute name, and for a factory call its literal arguments.
type Expression<'py> = (String, Option<(Bound<'py, PyTuple>, Bound<'py, PyDict>)>);

/// Reads the object expression with Python's own parser: a name, or a call of a name with
/// literal arguments (anything else would be code to run).
fn parse_expression<'py>(py: Python<'py>, spec: &AppSpec) -> Result<Expression<'py>, LoadError> {
    let invalid = |reason: &str| LoadError::ParseSpec {
        spec: format!("{}:{}", spec.module, spec.object),
        reason: reason.to_owned(),
    };
    let python_error = |e: PyErr| invalid(&describe(py, &e, true));
    let ast = py.import("ast").map_err(python_error)?;
    let body = match ast.call_method1("parse", (spec.object.as_str(), "<app spec>", "eval")) {
        Ok(tree) => tree.getattr("body").map_err(python_error)?,
        Err(e) if e.is_instance_of::<PySyntaxError>(py) => {
            return Err(invalid("expected an attribute name or a call of one"))
        }
        Err(e) => return Err(python_error(e)),
    };
    let is = |node: &Bound<'py, PyAny>, kind: &str| -> Result<bool, LoadError> {
        node.is_instance(&ast.getattr(kind).map_err(python_error)?)
            .map_err(python_error)
    };
    if is(&body, "Name")? {
        let name = body.getattr("id").and_then(|n| n.extract()).map_err(python_error)?;
        return Ok((name, None));
    }
    if !is(&body, "Call")? {
        return Err(invalid("expected an attribute name or a call of one"));
    }
    let func = body.getattr("func").map_err(python_error)?;
    if !is(&func, "Name")? {
        return Err(invalid("the factory must be a plain name"));
    }
    let name: String = func.getattr("id").and_then(|n| n.extract()).map_err(python_error)?;
    let literal = |node: Bound<'py, PyAny>| match ast.call_method1("literal_eval", (node,)) {
        Ok(v) => Ok(v),
        Err(e) if e.is_instance_of::<PyValueError>(py) || e.is_instance_of::<PySyntaxError>(py) => {
            Err(invalid("factory arguments must be literals"))
        }
        Err(e) => Err(python_error(e)),
    };
    let mut args = Vec::new();
    for node in body.getattr("args").and_then(|a| a.try_iter()).map_err(python_error)? {
        args.push(literal(node.map_err(python_error)?)?);
    }
    let kwargs = PyDict::new(py);
    for kw in body
        .getattr("keywords")
        .and_then(|k| k.try_iter())
        .map_err(python_error)?
    {
        let kw = kw.map_err(python_error)?;
        let key = kw.getattr("arg").map_err(python_error)?;
        if key.is_none() {
            return Err(invalid("factory arguments must be literals"));
        }
        let value = literal(kw.getattr("value").map_err(python_error)?)?;
        kwargs.set_item(key, value).map_err(python_error)?;
    }
    let args = PyTuple::new(py, args).map_err(python_error)?;
    Ok((name, Some((args, kwargs))))
}

/// Whether `err` says that `module` itself, or a package above it, does not exist: then its
/// message says it all. An import that fails inside the module's code (a missing dependency,
/// `from x import y` with no `y`) names another module, and its traceback shows which line.
pub(super) fn is_not_there(py: Python<'_>, err: &PyErr, module: &str) -> bool {
    if !err.is_instance_of::<PyImportError>(py) {
        return false;
    }
    let missing: Option<String> = err.value(py).getattr("name").ok().and_then(|n| n.extract().ok());
    match missing {
        Some(name) => module == name || module.starts_with(&format!("{name}.")),
        None => true,
    }
}

/// One line for a Python exception. `message_only`: the exception's message says it all
/// (`No module named 'x'`); otherwise the type leads, and the traceback goes to the error log
/// first, since the fault is in the app's code.
pub(super) fn describe(py: Python<'_>, err: &PyErr, message_only: bool) -> String {
    if message_only {
        return err.value(py).to_string();
    }
    log::error!("{}", super::traceback(py, err));
    let kind = err
        .get_type(py)
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "Exception".to_owned());
    format!("{kind}: {}", err.value(py))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_forms() {
        for (spec, module, object) in [
            ("app:application", "app", "application"),
            ("pkg.mod:app", "pkg.mod", "app"),
            ("pkg.mod", "pkg.mod", "application"),
            ("m:create_app()", "m", "create_app()"),
            ("m:create_app('x', debug=True)", "m", "create_app('x', debug=True)"),
            ("helloworld-test:app", "helloworld-test", "app"),
        ] {
            assert_eq!(
                parse(spec).unwrap(),
                AppSpec {
                    module: module.into(),
                    object: object.into()
                },
                "{spec}"
            );
        }
        for (spec, needle) in [
            ("app.py:app", "did you mean 'app:app'?"),
            ("app.py", "did you mean 'app:application'?"),
            (":app", "expected module.path:callable"),
            ("a..b:app", "expected module.path:callable"),
            ("-ab:app", "expected module.path:callable"),
            ("app:", "nothing after ':'"),
        ] {
            let e = parse(spec).unwrap_err().to_string();
            assert!(e.contains(needle), "{spec}: {e}");
        }
    }
}
