//! The configuration's part of the command line: `-c` and one clap argument per setting, built
//! from the table ([`add_args`]), and what a parse of them gives ([`CommandLine`]). Values stay
//! the text the user typed, so that `assign` judges them as it judges the file's.

use super::setting::{Cli, Takes, Value};
use super::table::Setting;
use clap::{Arg, ArgAction, ArgMatches, Command};
use std::path::PathBuf;

/// The id of `-c`; no setting has this key.
const CONFIG: &str = "config";

/// Adds `-c FILE` and the settings' flags and positional, in table order, to `cmd`.
///
/// A flag given twice takes its last value, as gunicorn's argparse does (`-w 2 -w 4` is 4);
/// flags that collect values (`-b`, `-e`) still collect every one.
pub fn add_args(cmd: Command) -> Command {
    let config = Arg::new(CONFIG)
        .short('c')
        .long("config")
        .value_name("FILE")
        .value_parser(clap::value_parser!(PathBuf))
        .help(
            "The config file: TOML (see etc/forkhorn.toml), or Python when it ends in .py \
             (gunicorn.conf.py) or is python:MODULE. Default: ./gunicorn.conf.py if it exists, else none",
        );
    cmd.args_override_self(true)
        .arg(config)
        .args(Setting::ALL.into_iter().filter_map(setting_arg))
}

/// The setting's clap argument, with the setting's key as its id; `None` for a setting only the
/// file sets.
fn setting_arg(setting: Setting) -> Option<Arg> {
    let d = setting.describe();
    let arg = Arg::new(d.key).help(d.help);
    match d.cli {
        Cli::FileOnly => None,
        Cli::Positional(name) => Some(arg.value_name(name).action(ArgAction::Set)),
        Cli::Flag(flag) => {
            let mut arg = arg.long(flag.long.trim_start_matches('-'));
            if let Some(short) = flag.short {
                arg = arg.short(short);
            }
            if let Some(alias) = flag.alias {
                arg = arg.visible_alias(alias.trim_start_matches('-'));
            }
            Some(match flag.takes {
                Takes::One(name) => arg.value_name(name).action(ArgAction::Set),
                Takes::Many(name) => arg.value_name(name).action(ArgAction::Append),
                Takes::Switch(_) => arg.action(ArgAction::SetTrue),
            })
        }
    }
}

/// The configuration's sources given on the command line: the config file and the settings.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CommandLine {
    /// The file named by `-c` (or `./gunicorn.conf.py`, which the `forkhorn` command puts here
    /// when there is one and `-c` is not given); without it no config file is read.
    pub file: Option<PathBuf>,
    /// The settings given, in the order of [`Setting::ALL`].
    pub(crate) values: Vec<(Setting, Value)>,
}

impl CommandLine {
    /// Reads back what [`add_args`] added to a command.
    pub fn from_matches(matches: &ArgMatches) -> CommandLine {
        let values = Setting::ALL
            .into_iter()
            .filter_map(|s| Some((s, value(s, matches)?)))
            .collect();
        CommandLine {
            file: matches.get_one::<PathBuf>(CONFIG).cloned(),
            values,
        }
    }

    /// The text the command line gave the setting whose key is `key`, one string per value;
    /// a switch gives "true" or "false".
    #[cfg(test)]
    pub(crate) fn given(&self, key: &str) -> Option<Vec<String>> {
        let (_, value) = self.values.iter().find(|(s, _)| s.key() == key)?;
        Some(match value {
            Value::Args(list) => list.clone(),
            Value::Arg(s) => vec![s.clone()],
            other => vec![other.to_string()],
        })
    }
}

/// The setting's value in `matches`, if the command line gave one.
fn value(setting: Setting, matches: &ArgMatches) -> Option<Value> {
    let id = setting.key();
    let one = || matches.get_one::<String>(id).cloned().map(Value::Arg);
    match setting.describe().cli {
        Cli::FileOnly => None,
        Cli::Positional(_) => one(),
        Cli::Flag(flag) => match flag.takes {
            Takes::One(_) => one(),
            Takes::Many(_) => {
                let values: Vec<String> = matches.get_many::<String>(id)?.cloned().collect();
                (!values.is_empty()).then_some(Value::Args(values))
            }
            Takes::Switch(on) => matches.get_flag(id).then_some(Value::Bool(on)),
        },
    }
}
