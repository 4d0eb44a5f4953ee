//! The configuration's part of the command line: `-c` and one clap argument per setting, built
//! from the table ([`add_args`]), and what a parse of them gives ([`CommandLine`]). Values stay
//! the text the user typed, so that `assign` judges them as it judges the file's. The same flags
//! are read from `GUNICORN_CMD_ARGS` and `FORKHORN_CMD_ARGS` ([`CommandLine::from_env_args`]).

use super::error::ConfigError;
use super::setting::{Cli, Flag, Takes, Value};
use super::table::Setting;
use clap::{Arg, ArgAction, ArgMatches, Command};
use std::path::PathBuf;

/// The id of `-c`; no setting has this key.
const CONFIG: &str = "config";

/// Adds `-c FILE` and the settings' flags and positional, in table order, to `cmd`.
///
/// A flag given twice takes its last value, as gunicorn's argparse does (`-w 2 -w 4` is 4);
/// flags that collect values (`-b`, `-e`) still collect every one. A long flag may be shortened
/// to any prefix that names one flag only, as argparse allows (`--error-log -`); an ambiguous one
/// (`--access-log`) is an error naming the candidates.
pub fn add_args(cmd: Command) -> Command {
    let config = Arg::new(CONFIG)
        .short('c')
        .long("config")
        .value_name("FILE")
        // Empty is taken (and means no file), as argparse takes `-c "$UNSET"` for gunicorn.
        .value_parser(clap::builder::TypedValueParser::map(
            clap::builder::OsStringValueParser::new(),
            PathBuf::from,
        ))
        .help(
            "The config file: TOML (see etc/forkhorn.toml), or Python when it ends in .py \
             (gunicorn.conf.py) or is python:MODULE. Default: ./gunicorn.conf.py if it exists, else none",
        );
    cmd.args_override_self(true)
        .infer_long_args(true)
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
                // `-w -1` is a value the setting refuses with its own message (argparse takes it
                // as the value too), not a flag clap would tell to put after `--`.
                Takes::One(name) => arg.value_name(name).allow_negative_numbers(true).action(ArgAction::Set),
                Takes::Many(name) => arg.value_name(name).action(ArgAction::Append),
                Takes::Optional { name, missing, .. } => arg
                    .value_name(name)
                    .num_args(0..=1)
                    .default_missing_value(missing)
                    .action(ArgAction::Set),
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
            // `-c ""`: no config file, as gunicorn reads an empty `config`.
            file: matches
                .get_one::<PathBuf>(CONFIG)
                .filter(|p| !p.as_os_str().is_empty())
                .cloned(),
            values,
        }
    }

    /// The flags held by the environment variable `var` (`GUNICORN_CMD_ARGS`), whose value is
    /// `text`: split into words as a shell would (gunicorn uses Python's `shlex.split`) and
    /// parsed as the command line's flags, `-c` and the APP included.
    pub(crate) fn from_env_args(var: &'static str, text: &str) -> Result<CommandLine, ConfigError> {
        let words = shell_words(text).map_err(|message| ConfigError::ParseEnvArgs {
            var,
            message: message.to_owned(),
        })?;
        let matches = add_args(Command::new(var).no_binary_name(true))
            .try_get_matches_from(optional_values_spelt_out(words))
            .map_err(|e| ConfigError::ParseEnvArgs {
                var,
                message: clap_line(&e),
            })?;
        Ok(CommandLine::from_matches(&matches))
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

/// The arguments with each flag whose value may be left out ([`Takes::Optional`]) written as
/// `--flag=VALUE` when the next argument is not one of its values: clap would take any next word
/// that is not a flag as the value, and a flag alone followed by the APP is common.
pub(crate) fn optional_values_spelt_out<T: Into<std::ffi::OsString>>(
    args: impl IntoIterator<Item = T>,
) -> Vec<std::ffi::OsString> {
    let mut args: Vec<std::ffi::OsString> = args.into_iter().map(Into::into).collect();
    let optional: Vec<(&str, &str, &[&str])> = Setting::ALL
        .into_iter()
        .filter_map(|s| match s.describe().cli {
            Cli::Flag(Flag {
                long,
                takes: Takes::Optional { missing, values, .. },
                ..
            }) => Some((long, missing, values)),
            _ => None,
        })
        .collect();
    let mut i = 0;
    while i < args.len() {
        if args[i] == "--" {
            break;
        }
        let found = optional.iter().find(|(long, ..)| args[i] == **long);
        if let Some((long, missing, values)) = found {
            let next = args.get(i + 1).and_then(|a| a.to_str());
            if !next.is_some_and(|n| values.iter().any(|v| v.eq_ignore_ascii_case(n))) {
                args[i] = format!("{long}={missing}").into();
            }
        }
        i += 1;
    }
    args
}

/// The setting's value in `matches`, if the command line gave one.
fn value(setting: Setting, matches: &ArgMatches) -> Option<Value> {
    let id = setting.key();
    let one = || matches.get_one::<String>(id).cloned().map(Value::Arg);
    match setting.describe().cli {
        Cli::FileOnly => None,
        Cli::Positional(_) => one(),
        Cli::Flag(flag) => match flag.takes {
            Takes::One(_) | Takes::Optional { .. } => one(),
            Takes::Many(_) => {
                let values: Vec<String> = matches.get_many::<String>(id)?.cloned().collect();
                (!values.is_empty()).then_some(Value::Args(values))
            }
            Takes::Switch(on) => matches.get_flag(id).then_some(Value::Bool(on)),
        },
    }
}

/// The first line of clap's message, without its `error: ` label: clap adds usage and a hint
/// on further lines, and a configuration error is one line.
fn clap_line(e: &clap::Error) -> String {
    let text = e.render().to_string();
    let first = text.lines().next().unwrap_or_default();
    first.strip_prefix("error: ").unwrap_or(first).to_owned()
}

/// Splits `text` into words as a POSIX shell does without expanding anything, as Python's
/// `shlex.split`: blanks separate words; single quotes keep everything; double quotes keep
/// everything but a backslash before `"`, `\\`, `$` or `` ` ``; a backslash elsewhere keeps the
/// next character.
fn shell_words(text: &str) -> Result<Vec<String>, &'static str> {
    let mut words = Vec::new();
    // The word being built; `None` between words, so that `''` still makes an empty word.
    let mut word: Option<String> = None;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => words.extend(word.take()),
            '\'' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => w.push(c),
                        None => return Err("no closing quotation"),
                    }
                }
            }
            '"' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\' | '$' | '`')) => w.push(c),
                            Some('\n') => {}
                            Some(c) => {
                                w.push('\\');
                                w.push(c);
                            }
                            None => return Err("no closing quotation"),
                        },
                        Some(c) => w.push(c),
                        None => return Err("no closing quotation"),
                    }
                }
            }
            '\\' => match chars.next() {
                Some('\n') => {}
                Some(c) => word.get_or_insert_with(String::new).push(c),
                None => return Err("no escaped character"),
            },
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(word);
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flag_whose_value_may_be_left_out_takes_only_its_values() {
        let cases: [(&[&str], &[&str]); 6] = [
            (
                &["--proxy-protocol", "v2", "app:x"],
                &["--proxy-protocol", "v2", "app:x"],
            ),
            (&["--proxy-protocol", "OFF"], &["--proxy-protocol", "OFF"]),
            (&["--proxy-protocol", "app:x"], &["--proxy-protocol=auto", "app:x"]),
            (&["-w", "2", "--proxy-protocol"], &["-w", "2", "--proxy-protocol=auto"]),
            (&["--proxy-protocol", "-w", "2"], &["--proxy-protocol=auto", "-w", "2"]),
            (&["--", "--proxy-protocol", "x"], &["--", "--proxy-protocol", "x"]),
        ];
        for (given, want) in cases {
            let got = optional_values_spelt_out(given.iter().copied());
            assert_eq!(
                got,
                want.iter().map(std::ffi::OsString::from).collect::<Vec<_>>(),
                "{given:?}"
            );
        }
        let cli = CommandLine::from_env_args("GUNICORN_CMD_ARGS", "--proxy-protocol app:x").expect("valid");
        assert_eq!(cli.given("proxy_protocol"), Some(vec!["auto".to_owned()]));
        assert_eq!(cli.given("app"), Some(vec!["app:x".to_owned()]));
    }

    #[test]
    fn shell_words_split_as_shlex_does() {
        let cases: [(&str, &[&str]); 9] = [
            ("", &[]),
            ("  -w 3\t--threads=4 \n", &["-w", "3", "--threads=4"]),
            (
                "--access-logformat '%(h)s \"%(r)s\"'",
                &["--access-logformat", "%(h)s \"%(r)s\""],
            ),
            ("--name \"my app\"", &["--name", "my app"]),
            ("a\\ b c", &["a b", "c"]),
            ("\"a\\\"b\\n\"", &["a\"b\\n"]),
            ("x'y'\"z\"", &["xyz"]),
            ("'' \"\"", &["", ""]),
            ("--env 'A=1 2'", &["--env", "A=1 2"]),
        ];
        for (text, want) in cases {
            let want: Vec<String> = want.iter().map(|w| (*w).to_owned()).collect();
            assert_eq!(shell_words(text), Ok(want), "{text:?}");
        }
        for bad in ["'open", "\"open", "end\\"] {
            assert!(shell_words(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn env_args_parse_as_flags() {
        let cli =
            CommandLine::from_env_args("GUNICORN_CMD_ARGS", "--bind=0.0.0.0:80 -w 3 -c f.toml app:x").expect("valid");
        assert_eq!(cli.given("bind"), Some(vec!["0.0.0.0:80".to_owned()]));
        assert_eq!(cli.given("workers"), Some(vec!["3".to_owned()]));
        assert_eq!(cli.given("app"), Some(vec!["app:x".to_owned()]));
        assert_eq!(cli.file, Some(PathBuf::from("f.toml")));
        let err = CommandLine::from_env_args("GUNICORN_CMD_ARGS", "--frobnicate").expect_err("unknown flag");
        assert_eq!(
            err.to_string(),
            "GUNICORN_CMD_ARGS: unexpected argument '--frobnicate' found"
        );
        let err = CommandLine::from_env_args("FORKHORN_CMD_ARGS", "--name 'x").expect_err("quote");
        assert_eq!(err.to_string(), "FORKHORN_CMD_ARGS: no closing quotation");
    }
}
