//! Running as another user (`user`, `group`): the master, started as root, binds and opens its
//! files, then each worker takes the configured identity after fork and before it loads the
//! application. The master keeps its own identity: it re-binds on reload, re-executes itself on
//! USR2 and reopens root-owned log files, none of which an unprivileged master could do.
//!
//! The order cannot fail open: supplementary groups, then the group, then the user (after
//! `setuid` nothing else could be changed), each call's failure is fatal, and the result is
//! verified with `getresuid`/`getresgid`, including that root cannot be regained.

use nix::errno::Errno;
use nix::unistd::{self, Gid, Group, Uid, User};
use std::ffi::CString;

/// Why the identity cannot be resolved or taken.
#[derive(Debug, thiserror::Error)]
pub enum PrivilegeError {
    /// No such user name.
    #[error("user {0:?} does not exist")]
    UnknownUser(String),
    /// No such group name.
    #[error("group {0:?} does not exist")]
    UnknownGroup(String),
    /// The user or group database could not be read.
    #[error("cannot look up {what} {name:?}: {source}")]
    Lookup {
        /// "user" or "group".
        what: &'static str,
        /// The name.
        name: String,
        /// The error.
        source: Errno,
    },
    /// A numeric user with no passwd entry and no `group`: its group is unknown.
    #[error("user id {0} has no passwd entry, so its group is unknown: set `group` too")]
    NoGroupFor(u32),
    /// setgroups/initgroups failed.
    #[error("cannot set the supplementary groups for gid {gid}: {source}")]
    SetGroups {
        /// The primary group.
        gid: u32,
        /// The OS error.
        source: Errno,
    },
    /// setresgid failed.
    #[error("cannot change to group id {gid}: {source}")]
    SetGid {
        /// The group.
        gid: u32,
        /// The OS error.
        source: Errno,
    },
    /// setresuid failed.
    #[error("cannot change to user id {uid}: {source}")]
    SetUid {
        /// The user.
        uid: u32,
        /// The OS error.
        source: Errno,
    },
    /// The ids after the change are not the ones asked for.
    #[error("privileges not dropped as asked: {0}")]
    Verify(String),
}

/// A user and group to give a file to, each when set (`fchown`'s -1 for the other).
pub type Owner = (Option<Uid>, Option<Gid>);

/// The user and group workers run as, resolved once in the master.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The user to become, if `user` is set.
    pub uid: Option<Uid>,
    /// The group to become: `group`, else the user's primary group.
    pub gid: Option<Gid>,
    /// The user's name, for its supplementary groups (initgroups); None for a numeric user
    /// without a passwd entry, who gets only `gid`.
    user_name: Option<CString>,
}

impl Identity {
    /// Resolves `user` and `group` (names or numbers). `None` when neither is set.
    pub fn resolve(user: Option<&str>, group: Option<&str>) -> Result<Option<Identity>, PrivilegeError> {
        if user.is_none() && group.is_none() {
            return Ok(None);
        }
        let user = match user {
            None => None,
            Some(text) => Some(find_user(text)?),
        };
        let gid = match group {
            Some(text) => Some(find_group(text)?),
            None => match &user {
                Some((_, Some(u))) => Some(u.gid),
                Some((uid, None)) => return Err(PrivilegeError::NoGroupFor(uid.as_raw())),
                None => None,
            },
        };
        Ok(Some(Identity {
            uid: user.as_ref().map(|(uid, _)| *uid),
            gid,
            user_name: user.and_then(|(_, u)| u).and_then(|u| CString::new(u.name).ok()),
        }))
    }

    /// The owner to give files the workers must reopen.
    pub fn owner(&self) -> Owner {
        (self.uid, self.gid)
    }
}

fn find_user(text: &str) -> Result<(Uid, Option<User>), PrivilegeError> {
    let lookup = |source| PrivilegeError::Lookup {
        what: "user",
        name: text.into(),
        source,
    };
    if let Ok(n) = text.parse::<u32>() {
        let uid = Uid::from_raw(n);
        return Ok((uid, User::from_uid(uid).map_err(lookup)?));
    }
    match User::from_name(text).map_err(lookup)? {
        Some(u) => Ok((u.uid, Some(u))),
        None => Err(PrivilegeError::UnknownUser(text.into())),
    }
}

fn find_group(text: &str) -> Result<Gid, PrivilegeError> {
    if let Ok(n) = text.parse::<u32>() {
        return Ok(Gid::from_raw(n));
    }
    match Group::from_name(text) {
        Ok(Some(g)) => Ok(g.gid),
        Ok(None) => Err(PrivilegeError::UnknownGroup(text.into())),
        Err(source) => Err(PrivilegeError::Lookup {
            what: "group",
            name: text.into(),
            source,
        }),
    }
}

/// Becomes `id`: supplementary groups, group, user, in that order, then checks the result.
pub fn drop_to(id: &Identity) -> Result<(), PrivilegeError> {
    let euid = unistd::geteuid();
    let already = none_or_eq(id.uid, euid) && none_or_eq(id.gid, unistd::getegid());
    if !euid.is_root() {
        // Without root nothing can change; asking for what we already are is not an error.
        return if already {
            Ok(())
        } else {
            Err(PrivilegeError::SetUid {
                uid: id.uid.unwrap_or(euid).as_raw(),
                source: Errno::EPERM,
            })
        };
    }
    if let Some(gid) = id.gid {
        let groups = match &id.user_name {
            Some(name) => unistd::initgroups(name, gid),
            None => unistd::setgroups(&[gid]),
        };
        groups.map_err(|source| PrivilegeError::SetGroups {
            gid: gid.as_raw(),
            source,
        })?;
        unistd::setresgid(gid, gid, gid).map_err(|source| PrivilegeError::SetGid {
            gid: gid.as_raw(),
            source,
        })?;
    }
    if let Some(uid) = id.uid {
        unistd::setresuid(uid, uid, uid).map_err(|source| PrivilegeError::SetUid {
            uid: uid.as_raw(),
            source,
        })?;
    }
    verify(id)
}

fn verify(id: &Identity) -> Result<(), PrivilegeError> {
    let bad = |what: String| Err(PrivilegeError::Verify(what));
    if let Some(want) = id.gid {
        let g = unistd::getresgid().map_err(|e| PrivilegeError::Verify(format!("getresgid: {e}")))?;
        if [g.real, g.effective, g.saved] != [want; 3] {
            return bad(format!("gids are {}/{}/{}, not {want}", g.real, g.effective, g.saved));
        }
    }
    if let Some(want) = id.uid {
        let u = unistd::getresuid().map_err(|e| PrivilegeError::Verify(format!("getresuid: {e}")))?;
        if [u.real, u.effective, u.saved] != [want; 3] {
            return bad(format!("uids are {}/{}/{}, not {want}", u.real, u.effective, u.saved));
        }
        if !want.is_root() && unistd::setuid(Uid::from_raw(0)).is_ok() {
            return bad("root could be regained".into());
        }
    }
    Ok(())
}

/// True when nothing is asked (`None`) or what is asked is what is.
fn none_or_eq<T: PartialEq>(asked: Option<T>, current: T) -> bool {
    match asked {
        None => true,
        Some(v) => v == current,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_names_and_numbers() {
        assert_eq!(Identity::resolve(None, None).unwrap(), None);
        let root = Identity::resolve(Some("root"), None).unwrap().unwrap();
        assert_eq!(root.uid, Some(Uid::from_raw(0)));
        assert_eq!(root.gid, Some(Gid::from_raw(0)));
        let by_number = Identity::resolve(Some("0"), Some("0")).unwrap().unwrap();
        assert_eq!(by_number.owner(), (Some(Uid::from_raw(0)), Some(Gid::from_raw(0))));
        let group_only = Identity::resolve(None, Some("0")).unwrap().unwrap();
        assert_eq!(group_only.owner(), (None, Some(Gid::from_raw(0))));
        assert!(matches!(
            Identity::resolve(Some("no-such-user-forkhorn"), None),
            Err(PrivilegeError::UnknownUser(_))
        ));
        assert!(matches!(
            Identity::resolve(None, Some("no-such-group-forkhorn")),
            Err(PrivilegeError::UnknownGroup(_))
        ));
        // A uid nobody has, without a group: nothing says which group it should run as.
        assert!(matches!(
            Identity::resolve(Some("3999999"), None),
            Err(PrivilegeError::NoGroupFor(3_999_999))
        ));
    }

    #[test]
    fn a_forked_child_becomes_nobody_for_good() {
        if !unistd::geteuid().is_root() {
            eprintln!("skipped: dropping privileges needs root");
            return;
        }
        let id = Identity::resolve(Some("nobody"), None).unwrap().unwrap();
        let nobody = User::from_name("nobody").unwrap().unwrap();
        let child = crate::sys::process::fork_child(|| {
            if drop_to(&id).is_err() {
                return 1;
            }
            let groups = unistd::getgroups().unwrap_or_default();
            let ok = unistd::getresuid().is_ok_and(|u| [u.real, u.effective, u.saved] == [nobody.uid; 3])
                && unistd::getresgid().is_ok_and(|g| [g.real, g.effective, g.saved] == [nobody.gid; 3])
                && groups.iter().all(|g| *g != Gid::from_raw(0))
                && unistd::setuid(Uid::from_raw(0)).is_err();
            if ok {
                0
            } else {
                2
            }
        })
        .unwrap();
        let status = nix::sys::wait::waitpid(child, None).unwrap();
        assert_eq!(status, nix::sys::wait::WaitStatus::Exited(child, 0));
    }

    #[test]
    fn without_root_only_the_current_identity_is_accepted() {
        if unistd::geteuid().is_root() {
            eprintln!("skipped: needs a non-root user");
            return;
        }
        let me = Identity {
            uid: Some(unistd::geteuid()),
            gid: Some(unistd::getegid()),
            user_name: None,
        };
        drop_to(&me).unwrap();
        let root = Identity {
            uid: Some(Uid::from_raw(0)),
            gid: None,
            user_name: None,
        };
        assert!(drop_to(&root).is_err());
    }
}
