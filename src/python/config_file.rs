//! The evaluator mode of the `forkhorn` binary (`forkhorn __evaluate-python-config FILE ...`):
//! runs a Python config file with the embedded interpreter, in this short-lived process rather
//! than in the master, and writes its [`Report`] as JSON to standard output.
//!
//! What the file prints goes to standard error (standard output is the report's), and the
//! interpreter is set up as a worker's would be (virtualenv, `pythonpath`), from the command line.

use super::interpreter::{self, Setup};
use crate::config::{Config, EvaluatorArgs, Report};
use nix::fcntl::{fcntl, FcntlArg, FdFlag};
use pyo3::prelude::*;
use pyo3::types::PyModule;
use std::ffi::CString;
use std::io::Write;
use std::os::fd::OwnedFd;
use std::process::ExitCode;

/// The Python half: runs the file as gunicorn does and builds the report.
const EVALUATOR: &str = concat!(include_str!("gunicorn_stand_in.py"), include_str!("config_file.py"));

/// Why the evaluator could not even report.
#[derive(Debug, thiserror::Error)]
pub enum EvaluatorError {
    /// The arguments are not those the configuration loader passes.
    #[error(
        "{} is internal to forkhorn's configuration loader",
        crate::config::python_file::EVALUATE_ARG
    )]
    ParseArguments,
    /// Standard output could not be set aside for the report.
    #[error("cannot set standard output aside for the report: {0}")]
    RedirectOutput(nix::Error),
    /// The report could not be written.
    #[error("cannot write the report: {0}")]
    WriteReport(std::io::Error),
}

/// Runs the evaluator with the arguments after the hidden first one; the exit status is 0 when
/// a report (of any outcome) was written.
pub fn evaluator_main(args: impl IntoIterator<Item = std::ffi::OsString>) -> ExitCode {
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("forkhorn: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: impl IntoIterator<Item = std::ffi::OsString>) -> Result<(), EvaluatorError> {
    let args = EvaluatorArgs::parse(args).ok_or(EvaluatorError::ParseArguments)?;
    let report_out = set_stdout_aside().map_err(EvaluatorError::RedirectOutput)?;
    let _ = super::ARGV.set(args.argv.clone());
    let report = evaluate(&args);
    let json = serde_json::to_string(&report).unwrap_or_else(|e| {
        // A report is plain data; this is only for completeness.
        format!("{{\"Failed\": {:?}}}", e.to_string())
    });
    let mut out = std::fs::File::from(report_out);
    out.write_all(json.as_bytes()).map_err(EvaluatorError::WriteReport)
}

/// Returns a descriptor for what was standard output, and points standard output at standard
/// error, so that the file's `print` calls cannot corrupt the report.
fn set_stdout_aside() -> nix::Result<OwnedFd> {
    let report = nix::unistd::dup(std::io::stdout())?;
    // The file may start programs of its own; they must not inherit the report's pipe.
    fcntl(&report, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC))?;
    nix::unistd::dup2_stdout(std::io::stderr())?;
    Ok(report)
}

fn evaluate(args: &EvaluatorArgs) -> Report {
    let cfg = Config {
        virtualenv: args.virtualenv.clone(),
        pythonpath: args.pythonpath.clone(),
        ..Config::default()
    };
    // The file is read from the directory forkhorn was started in, as gunicorn reads it before
    // any chdir: the `chdir` setting applies to the app only.
    let setup = Setup {
        chdir: None,
        ..Setup::from_config(&cfg)
    };
    if let Err(e) = interpreter::ensure_started(&setup) {
        return Report::Failed(e.to_string());
    }
    Python::attach(|py| {
        let json = run_evaluator(py, args).map_err(|e| {
            let message = super::traceback(py, &e);
            let last = message.lines().last().unwrap_or_default().to_owned();
            Report::Failed(format!("the evaluator raised: {last}"))
        })?;
        serde_json::from_str::<Report>(&json)
            .map_err(|e| Report::Failed(format!("the evaluator's report is malformed: {e}")))
    })
    .unwrap_or_else(|failed| failed)
}

fn run_evaluator(py: Python<'_>, args: &EvaluatorArgs) -> PyResult<String> {
    // The source is a constant of this crate, free of NUL bytes.
    let code = CString::new(EVALUATOR).map_err(|e| pyo3::exceptions::PyValueError::new_err(e.to_string()))?;
    let module = PyModule::from_code(py, &code, c"<forkhorn config evaluator>", c"_forkhorn_config")?;
    module
        .getattr("evaluate")?
        .call1((args.file.as_os_str(),))?
        .extract::<String>()
}
