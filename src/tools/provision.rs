//! `goodwill provision`: installs the forging appliance into a mounted
//! Raspberry Pi OS root filesystem (an SD card's, on a laptop), so that the
//! board forges from its first boot.
//!
//! What goes where — the Debian package installs the same paths:
//!
//! | path | what | owner, mode | if it exists and differs |
//! |---|---|---|---|
//! | `/usr/bin/goodwill` | the binary (`--binary`, aarch64 or 32-bit ARM) | root, 0755 | replaced |
//! | `/usr/lib/systemd/system/goodwill-{forger,node}.service` | the units | root, 0644 | replaced |
//! | `/usr/share/goodwill/board/NAME.toml` | a shipped profile (`--board pi4`) | root, 0644 | replaced |
//! | `/etc/goodwill/board/NAME.toml` | a custom profile (`--board FILE`) | root, 0644 | refused |
//! | `/etc/goodwill/genesis.toml` | the chain (`--genesis`) | root, 0644 | refused |
//! | `/etc/goodwill/forge.toml` | the settings (`--main`, `--board`) | root, 0644 | refused |
//! | `/etc/goodwill/forger.key` | `--key`, else a fresh key | goodwill, 0600 | **never overwritten** |
//! | `/etc/systemd/system/multi-user.target.wants/goodwill-forger.service` | the unit, enabled | link | refused |
//! | `/etc/passwd`, `group`, `shadow`, `gshadow` | the `goodwill` system user and group, and `gpio` if missing | kept | lines added |
//!
//! "Refused": a file the operator may have edited is never replaced; the run
//! stops before writing anything and says which file and why. A second run
//! with the same arguments changes nothing and says so.
//!
//! The decisions are pure functions, tested below: what an ELF header says
//! ([`elf_arch`]), how the account files gain the user ([`plan_accounts`]),
//! what each file needs ([`decide`], [`decide_key`], [`decide_link`]). [`run`]
//! reads the root filesystem, decides everything, then writes. Paths inside
//! the root filesystem are resolved as if it were `/` ([`in_root`]): an
//! absolute symbolic link there (`/lib -> /usr/lib`) never leads out of it.

use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Component, Path, PathBuf};

use crate::chain::crypto::PublicKey;
use crate::runtime::board::{self, Board};
use crate::runtime::keyfile;

/// The system user the units run as.
pub const USER: &str = "goodwill";
/// The group that may open `/dev/gpiochip*` on Raspberry Pi OS.
pub const GPIO_GROUP: &str = "gpio";
/// The user's home: the units' `StateDirectory=goodwill`.
pub const HOME: &str = "/var/lib/goodwill";
/// The user's shell.
pub const SHELL: &str = "/usr/sbin/nologin";
/// The binary.
pub const BINARY: &str = "/usr/bin/goodwill";
/// The package's unit directory.
pub const UNIT_DIR: &str = "/usr/lib/systemd/system";
/// The forger's unit.
pub const FORGER_UNIT: &str = "goodwill-forger.service";
/// The main node's unit.
pub const NODE_UNIT: &str = "goodwill-node.service";
/// Where `systemctl enable` puts the forger's link.
pub const WANTS_DIR: &str = "/etc/systemd/system/multi-user.target.wants";
/// The forger's settings (the unit's `--config`).
pub const FORGE_CONFIG: &str = "/etc/goodwill/forge.toml";
/// The genesis file.
pub const GENESIS: &str = "/etc/goodwill/genesis.toml";
/// The forging key.
pub const KEY: &str = "/etc/goodwill/forger.key";
/// The forger's data directory (inside the units' state directory).
pub const FORGER_DATA: &str = "/var/lib/goodwill/forger";

/// The forger's unit file, as shipped in `systemd/`.
pub const FORGER_UNIT_TEXT: &str = include_str!("../../systemd/goodwill-forger.service");
/// The main node's unit file, as shipped in `systemd/`.
pub const NODE_UNIT_TEXT: &str = include_str!("../../systemd/goodwill-node.service");

/// System user and group ids are taken from this range, highest free first
/// (as systemd-sysusers does; Debian's adduser counts up from 100).
pub const SYSTEM_IDS: std::ops::RangeInclusive<u32> = 100..=999;

/// The largest binary accepted (a release build is about 10 MB).
const BINARY_MAX_BYTES: u64 = 512 << 20;

/// `goodwill provision` arguments.
#[derive(Debug, clap::Args)]
pub struct ProvisionArgs {
    /// The mounted root filesystem (e.g. /media/$USER/rootfs).
    #[arg(long)]
    pub rootfs: PathBuf,
    /// Board profile: pi5, pi4, pi3, zero2w, generic, none, or a TOML file.
    #[arg(long)]
    pub board: String,
    /// A main node the forger follows, HOST:PORT (repeat).
    #[arg(long = "main", required = true)]
    pub mains: Vec<String>,
    /// The chain's genesis file.
    #[arg(long)]
    pub genesis: PathBuf,
    /// The forging key to install (default: a fresh one is made). A key
    /// already in the root filesystem is never overwritten.
    #[arg(long)]
    pub key: Option<PathBuf>,
    /// The goodwill binary built for the board: aarch64 for Raspberry Pi OS
    /// 64-bit, armv7 for 32-bit (default: this binary, if it is one).
    #[arg(long)]
    pub binary: Option<PathBuf>,
    /// A release key whose signed releases the board takes (repeat): its
    /// address, written to `[update] keys` in forge.toml (docs/operate.md,
    /// "Releases"). Without one, the board takes no release.
    #[arg(long = "update-key")]
    pub update_keys: Vec<String>,
}

// ---------------------------------------------------------------------------
// ELF headers

/// A binary's architecture, from its ELF header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arch {
    /// 64-bit ARM: Raspberry Pi OS 64-bit.
    Aarch64,
    /// 32-bit ARM; `hard_float`: the armhf ABI of Raspberry Pi OS 32-bit.
    Arm32 {
        /// Floating point in registers (armhf), not soft-float (armel).
        hard_float: bool,
    },
    /// Anything else: the ELF `e_machine` and whether it is 64-bit.
    Other {
        /// `e_machine`.
        machine: u16,
        /// ELFCLASS64.
        wide: bool,
    },
}

impl Arch {
    /// For people: `aarch64`, `armv7 (armhf)`, `x86-64`…
    pub fn name(&self) -> String {
        match self {
            Arch::Aarch64 => "aarch64".into(),
            Arch::Arm32 { hard_float: true } => "32-bit ARM (armhf)".into(),
            Arch::Arm32 { hard_float: false } => "32-bit ARM soft-float (armel)".into(),
            Arch::Other { machine, wide } => match (machine, wide) {
                (62, _) => "x86-64".into(),
                (3, _) => "x86 (i386)".into(),
                (243, true) => "64-bit RISC-V".into(),
                (21, true) => "64-bit PowerPC".into(),
                (m, w) => format!("ELF machine {m} ({}-bit)", if *w { 64 } else { 32 }),
            },
        }
    }

    /// Whether Raspberry Pi OS runs it: aarch64 (64-bit) or armhf (32-bit).
    pub fn runs_on_a_pi(&self) -> bool {
        matches!(self, Arch::Aarch64 | Arch::Arm32 { hard_float: true })
    }
}

/// Why bytes are not the head of an ELF executable whose machine can be told.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ElfError {
    /// No ELF magic number (a script, a text file), or too short.
    #[error("not an ELF executable (no ELF header)")]
    NoHeader,
    /// An `EI_CLASS` that is neither 32- nor 64-bit.
    #[error("not a valid ELF file (class {0})")]
    Class(u8),
    /// An `EI_DATA` that is neither little- nor big-endian.
    #[error("not a valid ELF file (data encoding {0})")]
    Encoding(u8),
    /// An `e_type` other than an executable or a position-independent one.
    #[error("an ELF file but not an executable (type {0}: an object file or a core dump?)")]
    NotExecutable(u16),
    /// A 32-bit ARM header cut before its `e_flags`.
    #[error("a 32-bit ARM ELF header too short to read its flags")]
    NoArmFlags,
    /// An ARM executable for big-endian processors.
    #[error("a big-endian ARM executable: Raspberry Pi OS is little-endian")]
    BigEndianArm,
}

/// The architecture of an ELF executable from its first bytes (64 suffice).
pub fn elf_arch(head: &[u8]) -> Result<Arch, ElfError> {
    if head.len() < 20 || head[..4] != *b"\x7fELF" {
        return Err(ElfError::NoHeader);
    }
    let wide = match head[4] {
        1 => false,
        2 => true,
        c => return Err(ElfError::Class(c)),
    };
    let little = match head[5] {
        1 => true,
        2 => false,
        d => return Err(ElfError::Encoding(d)),
    };
    let u16_at = |i: usize| {
        let b = [head[i], head[i + 1]];
        if little {
            u16::from_le_bytes(b)
        } else {
            u16::from_be_bytes(b)
        }
    };
    let kind = u16_at(16);
    if kind != 2 && kind != 3 {
        return Err(ElfError::NotExecutable(kind));
    }
    let machine = u16_at(18);
    Ok(match (machine, wide) {
        (183, true) if little => Arch::Aarch64,
        (40, false) if little => {
            // e_flags of a 32-bit header is at offset 36.
            let flags = head
                .get(36..40)
                .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .ok_or(ElfError::NoArmFlags)?;
            const EF_ARM_ABI_FLOAT_HARD: u32 = 0x400;
            Arch::Arm32 {
                hard_float: flags & EF_ARM_ABI_FLOAT_HARD != 0,
            }
        }
        (183 | 40, _) => return Err(ElfError::BigEndianArm),
        _ => Arch::Other { machine, wide },
    })
}

// ---------------------------------------------------------------------------
// Accounts

/// The `goodwill` user's ids and the account files' new texts (`None`: no
/// change to that file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accounts {
    /// The user's uid.
    pub uid: u32,
    /// Its group's gid.
    pub gid: u32,
    /// New `/etc/passwd`.
    pub passwd: Option<String>,
    /// New `/etc/group`.
    pub group: Option<String>,
    /// New `/etc/shadow`.
    pub shadow: Option<String>,
    /// New `/etc/gshadow`.
    pub gshadow: Option<String>,
}

/// Why the account files cannot gain the [`USER`] user as they are.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AccountsError {
    /// A line that is not a passwd or group entry.
    #[error("{file}:{number}: {fault}: {line:?}")]
    Line {
        /// The file (`/etc/passwd`, `/etc/group`).
        file: &'static str,
        /// The line's number, from 1.
        number: usize,
        /// The line.
        line: String,
        /// What is wrong with it.
        fault: LineFault,
    },
    /// Every system id (100 to 999) is taken.
    #[error("no free system {what} id between 100 and 999")]
    NoFreeId {
        /// Which id: `user`, `group`, or `user and group` (one number
        /// for both).
        what: &'static str,
    },
    /// The user's primary group is not the group of its name.
    #[error(
        "/etc/passwd: user {USER}'s group id is {user_gid}, but group {USER} is {group_gid}; \
         the units run as user and group {USER}: make them agree first"
    )]
    GroupDisagrees {
        /// The user's primary group id (in `/etc/passwd`).
        user_gid: u32,
        /// The id of the group named [`USER`] (in `/etc/group`).
        group_gid: u32,
    },
    /// The user's primary group is another group, and there is no group
    /// of its name.
    #[error(
        "/etc/passwd: user {USER}'s group id {gid} is group {group:?}, and there is \
         no group {USER}; the units run as group {USER}: make them agree first"
    )]
    GroupOfAnother {
        /// The user's primary group id.
        gid: u32,
        /// That group's name.
        group: String,
    },
}

/// What is wrong with a line of `/etc/passwd` or `/etc/group`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LineFault {
    /// Not as many `:`-separated fields as the file has.
    #[error("expected {expected} fields separated by ':', found {found}")]
    Fields {
        /// The file's number of fields (passwd 7, group 4).
        expected: usize,
        /// The line's.
        found: usize,
    },
    /// The third field (uid or gid) is not a number.
    #[error("the id is not a number")]
    Id,
    /// passwd's fourth field (the primary group) is not a number.
    #[error("the group id is not a number")]
    GroupId,
}

/// One line of passwd or group: its name and ids.
struct IdLine<'a> {
    name: &'a str,
    id: u32,
    /// passwd: the primary group.
    gid: Option<u32>,
}

/// The lines of a passwd-style file with `fields` fields (names, ids);
/// `file` names it in errors, with the line.
fn id_lines<'a>(
    text: &'a str,
    file: &'static str,
    fields: usize,
) -> Result<Vec<IdLine<'a>>, AccountsError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        // Blank lines and NIS compat entries ("+", "-name") carry no ids.
        if line.trim().is_empty() || line.starts_with('+') || line.starts_with('-') {
            continue;
        }
        let f: Vec<&str> = line.split(':').collect();
        let bad = |fault| AccountsError::Line {
            file,
            number: i + 1,
            line: line.to_string(),
            fault,
        };
        if f.len() != fields {
            return Err(bad(LineFault::Fields {
                expected: fields,
                found: f.len(),
            }));
        }
        let id = f[2].parse().map_err(|_| bad(LineFault::Id))?;
        let gid = if fields == 7 {
            Some(f[3].parse().map_err(|_| bad(LineFault::GroupId))?)
        } else {
            None
        };
        out.push(IdLine {
            name: f[0],
            id,
            gid,
        });
    }
    Ok(out)
}

/// The names of a shadow-style file's lines.
fn names(text: &str) -> impl Iterator<Item = &str> {
    text.lines().filter_map(|l| l.split(':').next())
}

/// `text` with `line` appended (and a newline before it if `text` lacks one).
fn append(text: &str, line: &str) -> String {
    let mut s = text.to_string();
    if !s.is_empty() && !s.ends_with('\n') {
        s.push('\n');
    }
    s.push_str(line);
    s.push('\n');
    s
}

/// The highest id of [`SYSTEM_IDS`] that `free` accepts.
fn highest_free(free: impl Fn(u32) -> bool, what: &'static str) -> Result<u32, AccountsError> {
    SYSTEM_IDS
        .rev()
        .find(|&n| free(n))
        .ok_or(AccountsError::NoFreeId { what })
}

/// How `/etc/passwd`, `/etc/group` and, where they exist, `/etc/shadow` and
/// `/etc/gshadow` gain the [`USER`] system user, its group, and the
/// [`GPIO_GROUP`] group the forger's unit asks for. An existing user keeps
/// its ids; a new one gets the highest id free as both uid and gid (where
/// one number is free in both files), with a locked password and no login
/// shell. Lines are only ever added.
pub fn plan_accounts(
    passwd: &str,
    group: &str,
    shadow: Option<&str>,
    gshadow: Option<&str>,
) -> Result<Accounts, AccountsError> {
    let users = id_lines(passwd, "/etc/passwd", 7)?;
    let groups = id_lines(group, "/etc/group", 4)?;
    let uid_free = |n: u32| users.iter().all(|u| u.id != n);
    let gid_free = |n: u32| groups.iter().all(|g| g.id != n);
    let user = users.iter().find(|u| u.name == USER);
    let own_group = groups.iter().find(|g| g.name == USER);

    let (uid, gid) = match (user, own_group) {
        (Some(u), Some(g)) => {
            let primary = u.gid.expect("passwd lines have a group id");
            if primary != g.id {
                return Err(AccountsError::GroupDisagrees {
                    user_gid: primary,
                    group_gid: g.id,
                });
            }
            (u.id, g.id)
        }
        (Some(u), None) => {
            let primary = u.gid.expect("passwd lines have a group id");
            if let Some(other) = groups.iter().find(|g| g.id == primary) {
                return Err(AccountsError::GroupOfAnother {
                    gid: primary,
                    group: other.name.to_string(),
                });
            }
            (u.id, primary)
        }
        (None, Some(g)) => {
            let uid = if uid_free(g.id) && SYSTEM_IDS.contains(&g.id) {
                g.id
            } else {
                highest_free(uid_free, "user")?
            };
            (uid, g.id)
        }
        (None, None) => {
            let both = highest_free(|n| uid_free(n) && gid_free(n), "user and group");
            match both {
                Ok(n) => (n, n),
                Err(_) => (
                    highest_free(uid_free, "user")?,
                    highest_free(gid_free, "group")?,
                ),
            }
        }
    };

    let mut new_passwd = None;
    let mut new_group = None;
    if user.is_none() {
        new_passwd = Some(append(
            passwd,
            &format!("{USER}:x:{uid}:{gid}:goodwill forging appliance:{HOME}:{SHELL}"),
        ));
    }
    let mut group_text = group.to_string();
    if own_group.is_none() {
        group_text = append(&group_text, &format!("{USER}:x:{gid}:"));
    }
    let has_gpio = groups.iter().any(|g| g.name == GPIO_GROUP);
    if !has_gpio {
        let gpio = highest_free(|n| gid_free(n) && n != gid, "group")?;
        group_text = append(&group_text, &format!("{GPIO_GROUP}:x:{gpio}:"));
    }
    if group_text != group {
        new_group = Some(group_text);
    }

    // Locked password ("!*"), no password ageing: as systemd-sysusers writes.
    let new_shadow = shadow.and_then(|s| {
        (!names(s).any(|n| n == USER)).then(|| append(s, &format!("{USER}:!*:::::::")))
    });
    let new_gshadow = gshadow.and_then(|s| {
        let mut t = s.to_string();
        for name in [USER, GPIO_GROUP] {
            if !names(s).any(|n| n == name) {
                t = append(&t, &format!("{name}:!*::"));
            }
        }
        (t != s).then_some(t)
    });
    Ok(Accounts {
        uid,
        gid,
        passwd: new_passwd,
        group: new_group,
        shadow: new_shadow,
        gshadow: new_gshadow,
    })
}

// ---------------------------------------------------------------------------
// Decisions

/// A file found in the root filesystem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// Its bytes.
    pub bytes: Vec<u8>,
    /// Its permission bits.
    pub mode: u32,
    /// Its owner.
    pub uid: u32,
    /// Its group.
    pub gid: u32,
}

/// Whose a file is, which says what happens when it differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// goodwill's own (binary, units, shipped profiles): replaced.
    Ours,
    /// The operator's (settings, genesis, custom profile): a different one
    /// is a conflict, never replaced.
    Theirs,
}

/// What a file needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Absent: write it.
    Create,
    /// Present with other contents: write it over.
    Replace,
    /// The right contents, the wrong owner or mode: fix those.
    Fix,
    /// Nothing to do.
    Unchanged,
    /// Nothing may be written: why.
    Conflict(String),
}

impl Decision {
    /// Whether applying it changes the root filesystem.
    pub fn changes(&self) -> bool {
        matches!(self, Decision::Create | Decision::Replace | Decision::Fix)
    }
}

/// What a file with contents `want`, mode `mode` and owner `owner` needs,
/// given what is there.
pub fn decide(
    want: &[u8],
    mode: u32,
    owner: (u32, u32),
    policy: Policy,
    found: Option<&Found>,
) -> Decision {
    match found {
        None => Decision::Create,
        Some(f) if f.bytes != want => match policy {
            Policy::Ours => Decision::Replace,
            Policy::Theirs => Decision::Conflict(
                "exists with other contents; goodwill provision does not replace it \
                 (edit it, or move it away and run again)"
                    .into(),
            ),
        },
        Some(f) if f.mode & 0o7777 != mode || (f.uid, f.gid) != owner => Decision::Fix,
        Some(_) => Decision::Unchanged,
    }
}

/// A key file found in the root filesystem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FoundKey {
    /// A key file for this address, with its mode and owner.
    Key {
        /// Its address.
        address: PublicKey,
        /// Its permission bits.
        mode: u32,
        /// Its owner and group.
        owner: (u32, u32),
    },
    /// Something that is not a usable key file: why.
    Unusable(String),
}

/// What the key needs: absent, it is written (`given`, or a fresh one); one
/// already there is kept — never overwritten, and a different `given` key is
/// a conflict; only its owner and mode are fixed.
pub fn decide_key(
    found: Option<&FoundKey>,
    given: Option<&PublicKey>,
    owner: (u32, u32),
) -> Decision {
    match found {
        None => Decision::Create,
        Some(FoundKey::Unusable(why)) => Decision::Conflict(format!(
            "is there but is not a usable key ({why}); goodwill never overwrites a key: \
             move it away if it is not needed"
        )),
        Some(FoundKey::Key { address, .. }) if given.is_some_and(|g| g != address) => {
            Decision::Conflict(format!(
                "holds the key of {address}, not the --key given ({}); goodwill never \
                 overwrites a key: move it away first if you mean to replace it",
                given.expect("checked")
            ))
        }
        Some(FoundKey::Key { mode, owner: o, .. }) => {
            if *mode & 0o7777 != 0o600 || *o != owner {
                Decision::Fix
            } else {
                Decision::Unchanged
            }
        }
    }
}

/// What is at the place of a symbolic link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FoundLink {
    /// A link to this target.
    Link(PathBuf),
    /// Something that is not a link.
    NotALink,
}

/// What the link to `target` needs.
pub fn decide_link(found: Option<&FoundLink>, target: &Path) -> Decision {
    match found {
        None => Decision::Create,
        Some(FoundLink::Link(t)) if t == target => Decision::Unchanged,
        Some(FoundLink::Link(t)) => Decision::Conflict(format!(
            "links to {} rather than {}; remove it and run again",
            t.display(),
            target.display()
        )),
        Some(FoundLink::NotALink) => Decision::Conflict(format!(
            "is not a symbolic link (to {}); remove it and run again",
            target.display()
        )),
    }
}

/// A `--main` that is not `HOST:PORT`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("--main {addr:?}: {fault} (write HOST:PORT, e.g. node1.example.org:7070)")]
pub struct MainError {
    /// The address given.
    pub addr: String,
    /// What is wrong with it.
    pub fault: MainFault,
}

/// What is wrong with a `--main` address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MainFault {
    /// No `:PORT`.
    #[error("no port")]
    NoPort,
    /// A port that is not 1 to 65535.
    #[error("the port is not a number from 1 to 65535")]
    Port,
    /// `[` without its `]`.
    #[error("an unclosed '['")]
    Unclosed,
    /// Brackets around something else than an IPv6 address.
    #[error("not an IPv6 address in the brackets")]
    NotIpv6,
    /// A host that is neither a name nor an IPv4 address.
    #[error("not a host name or IPv4 address")]
    NotHost,
}

/// Checks a main node's address as `HOST:PORT` (an IPv6 address in brackets).
pub fn check_main(addr: &str) -> Result<(), MainError> {
    let bad = |fault| MainError {
        addr: addr.to_string(),
        fault,
    };
    let (host, port) = addr
        .rsplit_once(':')
        .ok_or_else(|| bad(MainFault::NoPort))?;
    match port.parse::<u16>() {
        Ok(p) if p > 0 => {}
        _ => return Err(bad(MainFault::Port)),
    }
    let host = match host.strip_prefix('[') {
        Some(h) => {
            let h = h
                .strip_suffix(']')
                .ok_or_else(|| bad(MainFault::Unclosed))?;
            h.parse::<std::net::Ipv6Addr>()
                .map_err(|_| bad(MainFault::NotIpv6))?;
            return Ok(());
        }
        None => host,
    };
    let ok = !host.is_empty()
        && host.len() <= 253
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(bad(MainFault::NotHost))
    }
}

/// The forger's settings file: `goodwill forge --config` reads it.
pub fn forge_config(mains: &[String], board: &str, update_keys: &[String]) -> String {
    #[derive(serde::Serialize)]
    struct Update<'a> {
        keys: &'a [String],
    }
    #[derive(serde::Serialize)]
    struct ForgeConfig<'a> {
        data: &'a str,
        genesis: &'a str,
        key: &'a str,
        main: &'a [String],
        board: &'a str,
        status_listen: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        update: Option<Update<'a>>,
    }
    let body = ForgeConfig {
        data: FORGER_DATA,
        genesis: GENESIS,
        key: KEY,
        main: mains,
        board,
        status_listen: crate::runtime::forge::DEFAULT_STATUS_LISTEN,
        update: (!update_keys.is_empty()).then_some(Update { keys: update_keys }),
    };
    format!(
        "# The forger's settings (`goodwill forge --config`), written by `goodwill provision`.\n\
         # Edit freely: provision never replaces this file once it differs.\n{}",
        toml::to_string(&body).expect("plain strings serialise")
    )
}

// ---------------------------------------------------------------------------
// The root filesystem

/// `path` (absolute, as seen from inside the root filesystem) resolved under
/// `root` the way the booted board would resolve it: symbolic links are
/// followed, an absolute target starting again from `root`, and `..` never
/// climbs above it. The last component is followed too unless `follow_last`
/// is false (to look at a link itself).
pub fn in_root(root: &Path, path: &str, follow_last: bool) -> std::io::Result<PathBuf> {
    let mut todo: Vec<std::ffi::OsString> = Path::new(path)
        .components()
        .rev()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_os_string()),
            Component::ParentDir => Some("..".into()),
            _ => None,
        })
        .collect();
    let mut done: Vec<std::ffi::OsString> = Vec::new();
    let mut links = 0;
    while let Some(part) = todo.pop() {
        if part == ".." {
            done.pop();
            continue;
        }
        let here: PathBuf = root.join(done.iter().collect::<PathBuf>()).join(&part);
        let is_last = todo.is_empty();
        match std::fs::symlink_metadata(&here) {
            Ok(m) if m.file_type().is_symlink() && (follow_last || !is_last) => {
                links += 1;
                if links > 40 {
                    return Err(std::io::Error::other(format!(
                        "{path}: too many levels of symbolic links in {}",
                        root.display()
                    )));
                }
                let target = std::fs::read_link(&here)?;
                if target.is_absolute() {
                    done.clear();
                }
                for c in target.components().rev() {
                    match c {
                        Component::Normal(n) => todo.push(n.to_os_string()),
                        Component::ParentDir => todo.push("..".into()),
                        _ => {}
                    }
                }
            }
            _ => done.push(part),
        }
    }
    Ok(root.join(done.iter().collect::<PathBuf>()))
}

/// What must be there for `root` to be a Linux root filesystem that boots
/// with systemd: the missing ones, named.
fn missing_parts(root: &Path) -> Vec<&'static str> {
    let exists = |p: &str, dir: bool| {
        in_root(root, p, true)
            .ok()
            .and_then(|p| std::fs::metadata(p).ok())
            .is_some_and(|m| if dir { m.is_dir() } else { m.is_file() })
    };
    let mut missing = Vec::new();
    for (p, dir) in [
        ("/etc/passwd", false),
        ("/etc/group", false),
        ("/usr/bin/sh", false),
        ("/etc/systemd/system", true),
    ] {
        if !exists(p, dir) {
            missing.push(p);
        }
    }
    if !exists("/etc/os-release", false) && !exists("/usr/lib/os-release", false) {
        missing.push("/etc/os-release");
    }
    missing
}

/// Why `goodwill provision` stopped; the texts are the ones it prints
/// after `error: ` (exit status 1). What is found while checking and
/// deciding stops the run before anything is written; a failing write
/// ([`ProvisionError::Write`] mostly) can stop it part way.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProvisionError {
    /// A file on this machine (or in the root filesystem, by its path
    /// here) could not be read, or a link could not be made.
    #[error("{}: {source}", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A path inside the root filesystem (as the board sees it) could not
    /// be resolved or looked at.
    #[error("{path}: {source}")]
    InRoot {
        /// The path, as the board sees it.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// A file or directory could not be written, or its owner or mode
    /// set (with a hint to run as root when permission was denied).
    #[error("{}: {source}{}", .path.display(), root_hint(.source))]
    Write {
        /// The file or directory.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A file to read is a directory, a device…
    #[error("{} is not a regular file", .path.display())]
    NotAFile {
        /// The file.
        path: PathBuf,
    },
    /// A file to read is larger than such a file can be.
    #[error("{} is {len} bytes, more than {max}", .path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its size.
        len: u64,
        /// The most accepted.
        max: u64,
    },
    /// A path to write with no directory or no file name.
    #[error("{}: {why}", .path.display())]
    BadPath {
        /// The path.
        path: PathBuf,
        /// `no parent` or `no name`.
        why: &'static str,
    },
    /// An account file is missing.
    #[error("no {0}")]
    NoAccountFile(&'static str),
    /// An account file is not text.
    #[error("{0} is not UTF-8 text")]
    NotUtf8(&'static str),
    /// The account files cannot gain the user as they are.
    #[error(transparent)]
    Accounts(#[from] AccountsError),
    /// `--rootfs` could not be looked at.
    #[error("--rootfs {}: {source}", .root.display())]
    Rootfs {
        /// `--rootfs`.
        root: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// `--rootfs` is not a directory.
    #[error("--rootfs {} is not a directory", .0.display())]
    RootfsNotADirectory(PathBuf),
    /// `--rootfs` is this machine's `/`.
    #[error(
        "--rootfs {} is this machine's own root: provision writes into a mounted \
         SD card's root filesystem; on a running board, install the Debian package instead",
        .0.display()
    )]
    RootfsIsThisMachine(PathBuf),
    /// `--rootfs` lacks what a Linux system booting with systemd has.
    #[error(
        "--rootfs {} is not a Linux root filesystem booting with systemd: it has no {} \
         (on a Raspberry Pi OS card, mount the large ext4 partition, \"rootfs\", not \"bootfs\")",
        .root.display(),
        .missing.join(", no ")
    )]
    NotARootfs {
        /// `--rootfs`.
        root: PathBuf,
        /// The paths missing, as the board sees them.
        missing: Vec<&'static str>,
    },
    /// The root filesystem's `/usr/bin/sh` could not be resolved.
    #[error("{0}")]
    Shell(#[source] std::io::Error),
    /// The root filesystem's `/usr/bin/sh` is not an executable whose
    /// architecture can be told.
    #[error("{}/usr/bin/sh: {source}: cannot tell the system's architecture", .root.display())]
    ShellArch {
        /// `--rootfs`.
        root: PathBuf,
        /// Why.
        source: ElfError,
    },
    /// This program's own path is unknown (it installs itself without
    /// `--binary`).
    #[error("this binary's path: {0}")]
    Exe(#[source] std::io::Error),
    /// The binary to install is not an executable.
    #[error("{}: {source}", .path.display())]
    Elf {
        /// The binary.
        path: PathBuf,
        /// Why.
        source: ElfError,
    },
    /// `--binary` is not built for a Raspberry Pi.
    #[error(
        "--binary {}: it is built for {}; a Raspberry Pi needs aarch64 (Raspberry Pi OS \
         64-bit) or 32-bit ARM armhf (32-bit)",
        .path.display(),
        .arch.name()
    )]
    BinaryNotForAPi {
        /// `--binary`.
        path: PathBuf,
        /// What it is built for.
        arch: Arch,
    },
    /// No `--binary`, and this program is not built for a Raspberry Pi.
    #[error(
        "this goodwill is built for {}, not for a Raspberry Pi: pass --binary FILE, a \
         goodwill built for aarch64-unknown-linux-gnu (Raspberry Pi OS 64-bit) or \
         armv7-unknown-linux-gnueabihf (32-bit)",
        .0.name()
    )]
    ThisBinaryNotForAPi(Arch),
    /// The binary is built for a Pi, but not for the root filesystem's.
    #[error(
        "{} is built for {}, but {} is a {} system (its /usr/bin/sh): it would not run there",
        .binary.display(),
        .arch.name(),
        .root.display(),
        .rootfs_arch.name()
    )]
    ArchMismatch {
        /// The binary.
        binary: PathBuf,
        /// What it is built for.
        arch: Arch,
        /// `--rootfs`.
        root: PathBuf,
        /// What the root filesystem's shell is built for.
        rootfs_arch: Arch,
    },
    /// A `--main` that is not `HOST:PORT`.
    #[error(transparent)]
    Main(#[from] MainError),
    /// `--genesis`.
    #[error(transparent)]
    Genesis(#[from] crate::chain::genesis::GenesisError),
    /// `--key`, or the key being installed.
    #[error(transparent)]
    Key(#[from] keyfile::KeyFileError),
    /// A board profile (shipped, or `--board FILE`).
    #[error(transparent)]
    Board(#[from] board::BoardError),
    /// An `--update-key` that is not an address.
    #[error("--update-key {key:?}: {why} (give a release key's address, gw1…)")]
    UpdateKey {
        /// What was given.
        key: String,
        /// What is wrong.
        why: String,
    },
    /// `--board` names neither a shipped profile nor a file.
    #[error(
        "--board {arg:?}: not a shipped profile ({}, none) nor a .toml file",
        shipped_boards()
    )]
    UnknownBoard {
        /// `--board`.
        arg: String,
    },
    /// Files that differ and are not goodwill's to replace: nothing was
    /// written.
    #[error("nothing was written:{}", conflict_lines(.root, .conflicts))]
    Conflicts {
        /// `--rootfs`, as shown.
        root: String,
        /// Each file (as the board sees it) and why it conflicts.
        conflicts: Vec<(String, String)>,
    },
}

/// The shipped profiles' names, for [`ProvisionError::UnknownBoard`].
fn shipped_boards() -> String {
    let names: Vec<&str> = board::SHIPPED.iter().map(|(n, _)| *n).collect();
    names.join(", ")
}

/// One indented line per conflict, for [`ProvisionError::Conflicts`].
fn conflict_lines(root: &str, conflicts: &[(String, String)]) -> String {
    conflicts
        .iter()
        .map(|(path, why)| format!("\n  {root}{path} {why}"))
        .collect()
}

fn read_bounded(path: &Path, max: u64) -> Result<Vec<u8>, ProvisionError> {
    let io = |source| ProvisionError::Io {
        path: path.to_path_buf(),
        source,
    };
    let f = std::fs::File::open(path).map_err(io)?;
    let meta = f.metadata().map_err(io)?;
    if !meta.is_file() {
        return Err(ProvisionError::NotAFile {
            path: path.to_path_buf(),
        });
    }
    if meta.len() > max {
        return Err(ProvisionError::TooLarge {
            path: path.to_path_buf(),
            len: meta.len(),
            max,
        });
    }
    drop(f);
    crate::runtime::os::read_bounded(path, max).map_err(io)
}

fn head(path: &Path) -> Result<Vec<u8>, ProvisionError> {
    crate::runtime::os::read_head(path, 64).map_err(|source| ProvisionError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// What is at `path` (a regular file), if anything.
fn found(path: &Path, max: u64) -> Result<Option<Found>, ProvisionError> {
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(ProvisionError::Io {
            path: path.to_path_buf(),
            source,
        }),
        Ok(m) => Ok(Some(Found {
            bytes: read_bounded(path, max)?,
            mode: m.permissions().mode() & 0o7777,
            uid: m.uid(),
            gid: m.gid(),
        })),
    }
}

/// One thing to put into the root filesystem.
struct Item {
    /// Its path as the board sees it.
    path: String,
    /// What it is, for the report.
    what: String,
    decision: Decision,
    write: Write,
}

enum Write {
    Nothing,
    File {
        bytes: Vec<u8>,
        mode: u32,
        owner: (u32, u32),
    },
    NewKey {
        from: Option<PathBuf>,
        owner: (u32, u32),
    },
    FixKey {
        owner: (u32, u32),
    },
    Link {
        target: PathBuf,
    },
}

/// Writes `bytes` to `path` through a temporary file in the same directory,
/// renamed over it once synced: a power cut leaves the old file or the new.
fn write_file(
    path: &Path,
    bytes: &[u8],
    mode: u32,
    owner: (u32, u32),
) -> Result<(), ProvisionError> {
    let bad = |why| ProvisionError::BadPath {
        path: path.to_path_buf(),
        why,
    };
    let dir = path.parent().ok_or_else(|| bad("no parent"))?;
    make_dirs(dir)?;
    let name = path.file_name().ok_or_else(|| bad("no name"))?;
    let tmp = dir.join(format!(".{}.provision-tmp", name.to_string_lossy()));
    let _ = std::fs::remove_file(&tmp);
    let f = crate::runtime::os::create_new_file(&tmp, bytes, 0o600).map_err(|source| {
        ProvisionError::Io {
            path: tmp.clone(),
            source,
        }
    })?;
    let result = std::os::unix::fs::fchown(&f, Some(owner.0), Some(owner.1))
        .and_then(|_| f.set_permissions(std::fs::Permissions::from_mode(mode)))
        .and_then(|_| f.sync_all())
        .and_then(|_| std::fs::rename(&tmp, path))
        .and_then(|_| std::fs::File::open(dir)?.sync_all());
    if let Err(source) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(ProvisionError::Write {
            path: path.to_path_buf(),
            source,
        });
    }
    Ok(())
}

/// Creates `dir` and its missing parents, each mode 0755 whatever the umask:
/// the goodwill user must reach its key in /etc/goodwill.
fn make_dirs(dir: &Path) -> Result<(), ProvisionError> {
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent() {
        make_dirs(parent)?;
    }
    match std::fs::create_dir(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        r => r
            .and_then(|_| std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)))
            .map_err(|source| ProvisionError::Write {
                path: dir.to_path_buf(),
                source,
            }),
    }
}

fn set_owner_mode(path: &Path, mode: u32, owner: (u32, u32)) -> Result<(), ProvisionError> {
    std::os::unix::fs::chown(path, Some(owner.0), Some(owner.1))
        .and_then(|_| std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)))
        .map_err(|source| ProvisionError::Write {
            path: path.to_path_buf(),
            source,
        })
}

fn root_hint(e: &std::io::Error) -> &'static str {
    if e.kind() == std::io::ErrorKind::PermissionDenied {
        " (provision writes root's files and the goodwill user's key: run it as root, e.g. with sudo)"
    } else {
        ""
    }
}

/// `path` (as the board sees it) resolved under `root` ([`in_root`]), or
/// an error naming it.
fn resolve(root: &Path, path: &str, follow_last: bool) -> Result<PathBuf, ProvisionError> {
    in_root(root, path, follow_last).map_err(|source| ProvisionError::InRoot {
        path: path.to_string(),
        source,
    })
}

/// The account file `name` under `root`, if there.
fn account_file(root: &Path, name: &str) -> Result<Option<Found>, ProvisionError> {
    found(&resolve(root, name, true)?, 16 << 20)
}

fn text(f: &Found, name: &'static str) -> Result<String, ProvisionError> {
    String::from_utf8(f.bytes.clone()).map_err(|_| ProvisionError::NotUtf8(name))
}

/// Checks `--rootfs`: a directory, not this machine's own `/`, holding what
/// a Linux system booting with systemd has; returns its architecture (its
/// shell's).
fn check_rootfs(root: &Path) -> Result<Arch, ProvisionError> {
    let io = |source| ProvisionError::Rootfs {
        root: root.to_path_buf(),
        source,
    };
    let meta = std::fs::metadata(root).map_err(io)?;
    if !meta.is_dir() {
        return Err(ProvisionError::RootfsNotADirectory(root.to_path_buf()));
    }
    if std::fs::canonicalize(root).map_err(io)? == Path::new("/") {
        return Err(ProvisionError::RootfsIsThisMachine(root.to_path_buf()));
    }
    let missing = missing_parts(root);
    if !missing.is_empty() {
        return Err(ProvisionError::NotARootfs {
            root: root.to_path_buf(),
            missing,
        });
    }
    let sh = in_root(root, "/usr/bin/sh", true).map_err(ProvisionError::Shell)?;
    elf_arch(&head(&sh)?).map_err(|source| ProvisionError::ShellArch {
        root: root.to_path_buf(),
        source,
    })
}

/// The binary to install (`--binary`, else this one), and its architecture,
/// which must be a Pi's and the root filesystem's.
fn choose_binary(
    given: Option<&Path>,
    root: &Path,
    rootfs_arch: Arch,
) -> Result<(Vec<u8>, Arch), ProvisionError> {
    let path = match given {
        Some(b) => b.to_path_buf(),
        None => std::env::current_exe().map_err(ProvisionError::Exe)?,
    };
    let arch = elf_arch(&head(&path)?).map_err(|source| ProvisionError::Elf {
        path: path.clone(),
        source,
    })?;
    if !arch.runs_on_a_pi() {
        return Err(match given {
            Some(_) => ProvisionError::BinaryNotForAPi { path, arch },
            None => ProvisionError::ThisBinaryNotForAPi(arch),
        });
    }
    if arch != rootfs_arch {
        return Err(ProvisionError::ArchMismatch {
            binary: path,
            arch,
            root: root.to_path_buf(),
            rootfs_arch,
        });
    }
    Ok((read_bounded(&path, BINARY_MAX_BYTES)?, arch))
}

/// A board profile file to install: where, its bytes, whose it is.
type BoardFile = (String, Vec<u8>, Policy);

/// `--board`: the name the settings give, and the profile file to install
/// (none for `none`): a shipped profile by name, or a custom file.
fn choose_board(arg: &str) -> Result<(String, Option<BoardFile>), ProvisionError> {
    if arg == "none" {
        return Ok(("none".into(), None));
    }
    if let Some((name, text)) = board::SHIPPED.iter().find(|(n, _)| *n == arg) {
        let path = format!("{}/{name}.toml", board::PACKAGE_DIR);
        Board::from_toml(text, &path)?;
        return Ok((
            name.to_string(),
            Some((path, text.as_bytes().to_vec(), Policy::Ours)),
        ));
    }
    if arg.contains('/') || arg.ends_with(".toml") {
        let b = Board::load_file(Path::new(arg))?;
        let bytes = read_bounded(Path::new(arg), board::BOARD_FILE_MAX_BYTES)?;
        let path = format!("{}/{}.toml", board::ADMIN_DIR, b.name);
        return Ok((b.name, Some((path, bytes, Policy::Theirs))));
    }
    Err(ProvisionError::UnknownBoard {
        arg: arg.to_string(),
    })
}

/// The account files that change (or one line saying none does), and the
/// goodwill user's uid and gid.
fn account_items(root: &Path) -> Result<(Vec<Item>, (u32, u32)), ProvisionError> {
    let passwd =
        account_file(root, "/etc/passwd")?.ok_or(ProvisionError::NoAccountFile("/etc/passwd"))?;
    let group =
        account_file(root, "/etc/group")?.ok_or(ProvisionError::NoAccountFile("/etc/group"))?;
    let shadow = account_file(root, "/etc/shadow")?;
    let gshadow = account_file(root, "/etc/gshadow")?;
    let text_of = |f: Option<&Found>, name| f.map(|f| text(f, name)).transpose();
    let accounts = plan_accounts(
        &text(&passwd, "/etc/passwd")?,
        &text(&group, "/etc/group")?,
        text_of(shadow.as_ref(), "/etc/shadow")?.as_deref(),
        text_of(gshadow.as_ref(), "/etc/gshadow")?.as_deref(),
    )?;
    let owner = (accounts.uid, accounts.gid);
    let who = format!(
        "user {USER} ({}:{}), groups {USER} and {GPIO_GROUP}",
        owner.0, owner.1
    );
    let mut items = Vec::new();
    for (path, was, new) in [
        ("/etc/passwd", Some(&passwd), accounts.passwd),
        ("/etc/group", Some(&group), accounts.group),
        ("/etc/shadow", shadow.as_ref(), accounts.shadow),
        ("/etc/gshadow", gshadow.as_ref(), accounts.gshadow),
    ] {
        if let (Some(was), Some(new)) = (was, new) {
            items.push(Item {
                path: path.into(),
                what: format!("{who}: lines added"),
                decision: Decision::Replace,
                // The file keeps its owner and mode (shadow: root:shadow 0640).
                write: Write::File {
                    bytes: new.into_bytes(),
                    mode: was.mode,
                    owner: (was.uid, was.gid),
                },
            });
        }
    }
    if items.is_empty() {
        items.push(Item {
            path: "/etc/passwd".into(),
            what: who,
            decision: Decision::Unchanged,
            write: Write::Nothing,
        });
    }
    Ok((items, owner))
}

/// What is at the key's place `at`. Its mode is looked at apart: a key
/// others may read is still a key, and fixing the mode is what it needs.
fn found_key(at: &Path) -> Result<Option<FoundKey>, ProvisionError> {
    let m = match std::fs::symlink_metadata(at) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(ProvisionError::InRoot {
                path: KEY.into(),
                source,
            })
        }
        Ok(m) => m,
    };
    let address = read_bounded(at, 4096)
        .map_err(Unusable::Read)
        .and_then(|b| {
            let text = String::from_utf8(b).map_err(|_| Unusable::NotUtf8)?;
            Ok(keyfile::address_in(&text, KEY)?)
        });
    Ok(Some(match address {
        Ok(address) => FoundKey::Key {
            address,
            mode: m.permissions().mode() & 0o7777,
            owner: (m.uid(), m.gid()),
        },
        // Kept as text: it is shown in the conflict it makes.
        Err(e) => FoundKey::Unusable(e.to_string()),
    }))
}

/// Why the file at the key's place is no key ([`FoundKey::Unusable`]).
#[derive(Debug, thiserror::Error)]
enum Unusable {
    #[error(transparent)]
    Read(ProvisionError),
    #[error("not UTF-8 text")]
    NotUtf8,
    #[error(transparent)]
    Key(#[from] keyfile::KeyFileError),
}

/// What is at the link's place `at` (`link` names it).
fn found_link(at: &Path, link: &str) -> Result<Option<FoundLink>, ProvisionError> {
    let io = |source| ProvisionError::InRoot {
        path: link.to_string(),
        source,
    };
    match std::fs::symlink_metadata(at) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io(e)),
        Ok(m) if m.file_type().is_symlink() => {
            Ok(Some(FoundLink::Link(std::fs::read_link(at).map_err(io)?)))
        }
        Ok(_) => Ok(Some(FoundLink::NotALink)),
    }
}

/// Does what `item` needs, at `at`; a new key's address.
fn apply(item: &Item, at: &Path) -> Result<Option<PublicKey>, ProvisionError> {
    if !item.decision.changes() {
        return Ok(None);
    }
    match &item.write {
        Write::Nothing => {}
        Write::File { bytes, mode, owner } => match item.decision {
            Decision::Fix => set_owner_mode(at, *mode, *owner)?,
            _ => write_file(at, bytes, *mode, *owner)?,
        },
        Write::NewKey { from, owner } => {
            if let Some(dir) = at.parent() {
                make_dirs(dir)?;
            }
            let address = match from {
                Some(from) => keyfile::copy(from, at)?,
                None => {
                    let key = crate::runtime::os::new_keypair();
                    keyfile::write(at, &key)?;
                    key.public()
                }
            };
            set_owner_mode(at, 0o600, *owner)?;
            return Ok(Some(address));
        }
        Write::FixKey { owner } => set_owner_mode(at, 0o600, *owner)?,
        Write::Link { target } => {
            if let Some(dir) = at.parent() {
                make_dirs(dir)?;
            }
            std::os::unix::fs::symlink(target, at).map_err(|source| ProvisionError::Io {
                path: at.to_path_buf(),
                source,
            })?;
        }
    }
    Ok(None)
}

/// The report's line for `item`.
fn report(item: &Item) -> String {
    let verb = match item.decision {
        Decision::Create => "created",
        Decision::Replace => "updated",
        Decision::Fix => "fixed",
        _ => "unchanged",
    };
    let detail = match &item.write {
        _ if !item.decision.changes() => String::new(),
        Write::File { mode, owner, .. } => format!(" ({mode:o}, {}:{})", owner.0, owner.1),
        Write::NewKey { owner, .. } | Write::FixKey { owner } => {
            format!(" (600, {}:{} = {USER})", owner.0, owner.1)
        }
        _ => String::new(),
    };
    format!("{verb:<9} {}: {}{detail}", item.path, item.what)
}

/// `goodwill provision`: checks every input, decides what each file needs,
/// stops if anything conflicts, then writes and reports.
pub fn run(args: ProvisionArgs) -> Result<(), ProvisionError> {
    let root = &args.rootfs;
    let shown = root.display().to_string();
    let rootfs_arch = check_rootfs(root)?;
    for m in &args.mains {
        check_main(m)?;
    }
    for k in &args.update_keys {
        crate::chain::address::parse(k).map_err(|e| ProvisionError::UpdateKey {
            key: k.clone(),
            why: e.to_string(),
        })?;
    }
    let (binary, bin_arch) = choose_binary(args.binary.as_deref(), root, rootfs_arch)?;
    let params = crate::runtime::config::load_genesis(&args.genesis)?;
    let genesis = read_bounded(&args.genesis, crate::chain::limits::GENESIS_FILE_BYTES)?;
    let given_key = match &args.key {
        Some(k) => Some(keyfile::read_address(k)?),
        None => None,
    };
    let (board_name, board_file) = choose_board(&args.board)?;

    let (mut items, owner) = account_items(root)?;
    let root_owned = (0, 0);
    let mut file = |path: String, what: String, bytes: Vec<u8>, mode: u32, policy| {
        let at = resolve(root, &path, true)?;
        let there = found(&at, BINARY_MAX_BYTES)?;
        let decision = decide(&bytes, mode, root_owned, policy, there.as_ref());
        items.push(Item {
            path,
            what,
            decision,
            write: Write::File {
                bytes,
                mode,
                owner: root_owned,
            },
        });
        Ok::<(), ProvisionError>(())
    };
    let what = format!("the binary ({}, {} bytes)", bin_arch.name(), binary.len());
    file(BINARY.into(), what, binary, 0o755, Policy::Ours)?;
    for (unit, text) in [(FORGER_UNIT, FORGER_UNIT_TEXT), (NODE_UNIT, NODE_UNIT_TEXT)] {
        let path = format!("{UNIT_DIR}/{unit}");
        let bytes = text.as_bytes().to_vec();
        file(path, "a systemd unit".into(), bytes, 0o644, Policy::Ours)?;
    }
    if let Some((path, bytes, policy)) = board_file {
        file(
            path,
            format!("board profile {board_name}"),
            bytes,
            0o644,
            policy,
        )?;
    }
    let what = format!("the genesis of chain {}", params.chain_id().short());
    file(GENESIS.into(), what, genesis, 0o644, Policy::Theirs)?;
    let what = format!(
        "the forger's settings (main {}, board {board_name})",
        args.mains.join(", ")
    );
    let bytes = forge_config(&args.mains, &board_name, &args.update_keys).into_bytes();
    file(FORGE_CONFIG.into(), what, bytes, 0o644, Policy::Theirs)?;

    let key_at = resolve(root, KEY, true)?;
    let there = found_key(&key_at)?;
    let decision = decide_key(there.as_ref(), given_key.as_ref(), owner);
    let mut address = match (&there, &given_key) {
        (Some(FoundKey::Key { address, .. }), _) => Some(*address),
        (_, given) => *given,
    };
    items.push(Item {
        path: KEY.into(),
        what: match (&decision, &args.key) {
            (Decision::Create, Some(k)) => format!("the forging key, from {}", k.display()),
            (Decision::Create, None) => "a fresh forging key".into(),
            _ => "the forging key (kept: a key is never overwritten)".into(),
        },
        write: match decision {
            Decision::Create => Write::NewKey {
                from: args.key.clone(),
                owner,
            },
            _ => Write::FixKey { owner },
        },
        decision,
    });

    let link = format!("{WANTS_DIR}/{FORGER_UNIT}");
    let target = PathBuf::from(format!("{UNIT_DIR}/{FORGER_UNIT}"));
    let link_at = resolve(root, &link, false)?;
    let decision = decide_link(found_link(&link_at, &link)?.as_ref(), &target);
    items.push(Item {
        path: link,
        what: format!("{FORGER_UNIT} enabled (started at boot)"),
        decision,
        write: Write::Link { target },
    });

    // A conflict stops everything before anything is written.
    let conflicts: Vec<(String, String)> = items
        .iter()
        .filter_map(|i| match &i.decision {
            Decision::Conflict(why) => Some((i.path.clone(), why.clone())),
            _ => None,
        })
        .collect();
    if !conflicts.is_empty() {
        return Err(ProvisionError::Conflicts {
            root: shown,
            conflicts,
        });
    }

    for item in &items {
        let follow_last = !matches!(item.write, Write::Link { .. });
        let at = resolve(root, &item.path, follow_last)?;
        if let Some(new) = apply(item, &at)? {
            address = Some(new);
        }
        println!("{}", report(item));
    }
    let changed = items.iter().filter(|i| i.decision.changes()).count();
    if changed == 0 {
        println!(
            "nothing changed: {shown} was already provisioned ({} items checked)",
            items.len()
        );
    } else {
        println!("provisioned {shown}: {changed} changes");
    }
    if let Some(a) = address {
        println!("forger address {a}: fund it and buy weight (docs/raspberry-pi.md)");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 64-byte ELF header: class, data, type, machine, flags.
    fn elf(wide: bool, little: bool, kind: u16, machine: u16, flags: u32) -> Vec<u8> {
        let mut h = vec![0u8; 64];
        h[..4].copy_from_slice(b"\x7fELF");
        h[4] = if wide { 2 } else { 1 };
        h[5] = if little { 1 } else { 2 };
        h[6] = 1;
        let put16 = |h: &mut Vec<u8>, at: usize, v: u16| {
            let b = if little {
                v.to_le_bytes()
            } else {
                v.to_be_bytes()
            };
            h[at..at + 2].copy_from_slice(&b);
        };
        put16(&mut h, 16, kind);
        put16(&mut h, 18, machine);
        if !wide {
            h[36..40].copy_from_slice(&flags.to_le_bytes());
        }
        h
    }

    #[test]
    fn elf_headers_say_which_machine() {
        assert_eq!(elf_arch(&elf(true, true, 3, 183, 0)), Ok(Arch::Aarch64));
        assert_eq!(elf_arch(&elf(true, true, 2, 183, 0)), Ok(Arch::Aarch64));
        let armhf = elf_arch(&elf(false, true, 3, 40, 0x0500_0400)).unwrap();
        assert_eq!(armhf, Arch::Arm32 { hard_float: true });
        let armel = elf_arch(&elf(false, true, 3, 40, 0x0500_0200)).unwrap();
        assert_eq!(armel, Arch::Arm32 { hard_float: false });
        let x86 = elf_arch(&elf(true, true, 3, 62, 0)).unwrap();
        assert_eq!(x86.name(), "x86-64");
        assert!(Arch::Aarch64.runs_on_a_pi() && armhf.runs_on_a_pi());
        assert!(!armel.runs_on_a_pi() && !x86.runs_on_a_pi());
        assert_eq!(
            elf_arch(&elf(true, true, 3, 99, 0)).unwrap().name(),
            "ELF machine 99 (64-bit)"
        );
    }

    #[test]
    fn what_is_not_an_executable_is_named() {
        let e = elf_arch(b"#!/bin/sh\necho hello\n").unwrap_err();
        assert_eq!(e, ElfError::NoHeader);
        assert_eq!(e.to_string(), "not an ELF executable (no ELF header)");
        assert_eq!(elf_arch(b"\x7fELF"), Err(ElfError::NoHeader));
        let e = elf_arch(&elf(true, true, 1, 183, 0)).unwrap_err();
        assert_eq!(e, ElfError::NotExecutable(1));
        assert!(e.to_string().contains("object file"), "{e}");
        let e = elf_arch(&elf(true, false, 3, 183, 0)).unwrap_err();
        assert_eq!(e, ElfError::BigEndianArm);
        let mut bad = elf(true, true, 3, 183, 0);
        bad[4] = 7;
        assert_eq!(elf_arch(&bad), Err(ElfError::Class(7)));
        bad[4] = 2;
        bad[5] = 0;
        assert_eq!(elf_arch(&bad), Err(ElfError::Encoding(0)));
        let mut short = elf(false, true, 3, 40, 0x0500_0400);
        short.truncate(36);
        assert_eq!(elf_arch(&short), Err(ElfError::NoArmFlags));
    }

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/bash\n\
        daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n\
        systemd-timesync:x:999:999:systemd Time Synchronization:/:/usr/sbin/nologin\n\
        pi:x:1000:1000:,,,:/home/pi:/bin/bash\n";
    const GROUP: &str =
        "root:x:0:\ndaemon:x:1:\ngpio:x:997:pi\nsystemd-timesync:x:999:\npi:x:1000:\n";
    const SHADOW: &str = "root:*:19000:0:99999:7:::\npi:$y$j9T$abc:19000:0:99999:7:::\n";
    const GSHADOW: &str = "root:*::\ngpio:!::pi\npi:!::\n";

    #[test]
    fn a_new_user_gets_the_highest_free_system_id_and_every_file_a_line() {
        let a = plan_accounts(PASSWD, GROUP, Some(SHADOW), Some(GSHADOW)).unwrap();
        // 999 is systemd-timesync's, 997 gpio's: 998 is free in both files.
        assert_eq!((a.uid, a.gid), (998, 998));
        let passwd = a.passwd.unwrap();
        assert!(passwd.starts_with(PASSWD));
        assert!(passwd.ends_with(
            "goodwill:x:998:998:goodwill forging appliance:/var/lib/goodwill:/usr/sbin/nologin\n"
        ));
        assert_eq!(a.group.unwrap(), format!("{GROUP}goodwill:x:998:\n"));
        let shadow = a.shadow.unwrap();
        assert_eq!(shadow, format!("{SHADOW}goodwill:!*:::::::\n"));
        assert_eq!(shadow.lines().last().unwrap().split(':').count(), 9);
        assert_eq!(a.gshadow.unwrap(), format!("{GSHADOW}goodwill:!*::\n"));
    }

    #[test]
    fn planning_again_over_the_result_changes_nothing() {
        let a = plan_accounts(PASSWD, GROUP, Some(SHADOW), Some(GSHADOW)).unwrap();
        let b = plan_accounts(
            a.passwd.as_deref().unwrap(),
            a.group.as_deref().unwrap(),
            a.shadow.as_deref(),
            a.gshadow.as_deref(),
        )
        .unwrap();
        assert_eq!(
            b,
            Accounts {
                uid: 998,
                gid: 998,
                passwd: None,
                group: None,
                shadow: None,
                gshadow: None
            }
        );
    }

    #[test]
    fn an_existing_user_keeps_its_ids_and_a_missing_gpio_group_is_added() {
        let passwd = format!("{PASSWD}goodwill:x:120:130::/var/lib/goodwill:/usr/sbin/nologin");
        let group = "root:x:0:\ngoodwill:x:130:\n";
        let a = plan_accounts(&passwd, group, None, None).unwrap();
        assert_eq!((a.uid, a.gid), (120, 130));
        assert_eq!(a.passwd, None);
        assert_eq!(a.group.unwrap(), format!("{group}gpio:x:999:\n"));
        assert_eq!((a.shadow, a.gshadow), (None, None));
    }

    #[test]
    fn an_existing_group_lends_its_id_to_the_new_user() {
        let group = format!("{GROUP}goodwill:x:150:\n");
        let a = plan_accounts(PASSWD, &group, None, None).unwrap();
        assert_eq!((a.uid, a.gid), (150, 150));
        assert_eq!(a.group, None);
        // Its id taken by a user: the highest free uid, the group's gid.
        let passwd = format!("{PASSWD}other:x:150:150::/:/bin/false\n");
        let a = plan_accounts(&passwd, &group, None, None).unwrap();
        assert_eq!((a.uid, a.gid), (998, 150));
    }

    #[test]
    fn a_user_and_group_that_disagree_are_refused() {
        let passwd = format!("{PASSWD}goodwill:x:120:1::/:/usr/sbin/nologin\n");
        let e = plan_accounts(&passwd, GROUP, None, None).unwrap_err();
        assert_eq!(
            e,
            AccountsError::GroupOfAnother {
                gid: 1,
                group: "daemon".into()
            }
        );
        assert_eq!(
            e.to_string(),
            "/etc/passwd: user goodwill's group id 1 is group \"daemon\", and there is no group \
             goodwill; the units run as group goodwill: make them agree first"
        );
        let group = format!("{GROUP}goodwill:x:131:\n");
        let e = plan_accounts(&passwd, &group, None, None).unwrap_err();
        assert_eq!(
            e,
            AccountsError::GroupDisagrees {
                user_gid: 1,
                group_gid: 131
            }
        );
        assert_eq!(
            e.to_string(),
            "/etc/passwd: user goodwill's group id is 1, but group goodwill is 131; the units \
             run as user and group goodwill: make them agree first"
        );
    }

    #[test]
    fn a_damaged_account_file_is_named_with_its_line() {
        let e = plan_accounts(
            "root:x:0:0:root:/root:/bin/bash\nbroken:x:1\n",
            GROUP,
            None,
            None,
        )
        .unwrap_err();
        assert!(
            matches!(
                &e,
                AccountsError::Line {
                    file: "/etc/passwd",
                    number: 2,
                    line,
                    fault: LineFault::Fields {
                        expected: 7,
                        found: 3
                    },
                } if line == "broken:x:1"
            ),
            "{e:?}"
        );
        assert_eq!(
            e.to_string(),
            "/etc/passwd:2: expected 7 fields separated by ':', found 3: \"broken:x:1\""
        );
        let e = plan_accounts(PASSWD, "root:x:zero:\n", None, None).unwrap_err();
        assert!(
            matches!(
                e,
                AccountsError::Line {
                    file: "/etc/group",
                    number: 1,
                    fault: LineFault::Id,
                    ..
                }
            ),
            "{e:?}"
        );
        assert_eq!(
            e.to_string(),
            "/etc/group:1: the id is not a number: \"root:x:zero:\""
        );
        let passwd = "root:x:0:root:root:/root:/bin/bash\n";
        let e = plan_accounts(passwd, GROUP, None, None).unwrap_err();
        assert!(
            matches!(
                e,
                AccountsError::Line {
                    fault: LineFault::GroupId,
                    ..
                }
            ),
            "{e:?}"
        );
        // NIS compat lines and blank lines carry no ids and are kept.
        let a = plan_accounts(&format!("{PASSWD}+::::::\n\n"), GROUP, None, None).unwrap();
        assert!(a.passwd.unwrap().contains("+::::::\n"));
    }

    #[test]
    fn a_file_without_a_final_newline_gets_one_before_the_new_line() {
        let a = plan_accounts(PASSWD.trim_end(), GROUP.trim_end(), None, None).unwrap();
        assert!(a.passwd.unwrap().contains("/bin/bash\ngoodwill:x:998"));
        assert!(a.group.unwrap().contains("pi:x:1000:\ngoodwill:x:998:\n"));
    }

    #[test]
    fn full_system_id_ranges_are_an_error() {
        let passwd: String = SYSTEM_IDS
            .map(|n| format!("u{n}:x:{n}:{n}::/:/bin/false\n"))
            .collect();
        let e = plan_accounts(&passwd, "", None, None).unwrap_err();
        assert_eq!(e, AccountsError::NoFreeId { what: "user" });
        assert_eq!(e.to_string(), "no free system user id between 100 and 999");
    }

    fn f(bytes: &[u8], mode: u32, uid: u32, gid: u32) -> Found {
        Found {
            bytes: bytes.to_vec(),
            mode,
            uid,
            gid,
        }
    }

    #[test]
    fn ours_are_replaced_theirs_are_not() {
        use Decision::*;
        let me = (0, 0);
        assert_eq!(decide(b"new", 0o644, me, Policy::Ours, None), Create);
        assert_eq!(decide(b"new", 0o644, me, Policy::Theirs, None), Create);
        let old = f(b"old", 0o644, 0, 0);
        assert_eq!(decide(b"new", 0o644, me, Policy::Ours, Some(&old)), Replace);
        assert!(matches!(
            decide(b"new", 0o644, me, Policy::Theirs, Some(&old)),
            Conflict(why) if why.contains("does not replace it")
        ));
        let same = f(b"new", 0o644, 0, 0);
        assert_eq!(
            decide(b"new", 0o644, me, Policy::Theirs, Some(&same)),
            Unchanged
        );
        let open = f(b"new", 0o666, 0, 0);
        assert_eq!(decide(b"new", 0o644, me, Policy::Theirs, Some(&open)), Fix);
        let theirs = f(b"new", 0o644, 1000, 1000);
        assert_eq!(decide(b"new", 0o644, me, Policy::Ours, Some(&theirs)), Fix);
        assert!(Create.changes() && Replace.changes() && Fix.changes());
        assert!(!Unchanged.changes() && !Conflict(String::new()).changes());
    }

    #[test]
    fn a_key_is_never_overwritten() {
        use Decision::*;
        let a = crate::testkit::key(1, 0).public();
        let b = crate::testkit::key(1, 1).public();
        let owner = (998, 998);
        let there = |mode, owner| FoundKey::Key {
            address: a,
            mode,
            owner,
        };
        assert_eq!(decide_key(None, None, owner), Create);
        assert_eq!(decide_key(None, Some(&b), owner), Create);
        assert_eq!(
            decide_key(Some(&there(0o600, owner)), None, owner),
            Unchanged
        );
        assert_eq!(
            decide_key(Some(&there(0o600, owner)), Some(&a), owner),
            Unchanged
        );
        assert_eq!(decide_key(Some(&there(0o600, (0, 0))), None, owner), Fix);
        assert_eq!(decide_key(Some(&there(0o640, owner)), None, owner), Fix);
        let Conflict(why) = decide_key(Some(&there(0o600, owner)), Some(&b), owner) else {
            panic!("a different key must conflict");
        };
        assert!(
            why.contains(&a.to_string()) && why.contains("never"),
            "{why}"
        );
        let broken = FoundKey::Unusable("not a goodwill key file".into());
        assert!(
            matches!(decide_key(Some(&broken), None, owner), Conflict(w) if w.contains("never overwrites"))
        );
    }

    #[test]
    fn the_enabling_link_is_made_once_and_never_bent() {
        let t = Path::new("/usr/lib/systemd/system/goodwill-forger.service");
        assert_eq!(decide_link(None, t), Decision::Create);
        assert_eq!(
            decide_link(Some(&FoundLink::Link(t.into())), t),
            Decision::Unchanged
        );
        assert!(matches!(
            decide_link(Some(&FoundLink::Link("/dev/null".into())), t),
            Decision::Conflict(w) if w.contains("/dev/null")
        ));
        assert!(matches!(
            decide_link(Some(&FoundLink::NotALink), t),
            Decision::Conflict(_)
        ));
    }

    #[test]
    fn main_addresses_are_host_and_port() {
        for ok in [
            "node1.example.org:7070",
            "10.0.0.4:7070",
            "[2001:db8::1]:7070",
            "localhost:1",
        ] {
            assert_eq!(check_main(ok), Ok(()), "{ok}");
        }
        for (bad, fault) in [
            ("node1.example.org", MainFault::NoPort),
            ("node1:0", MainFault::Port),
            ("node1:70700", MainFault::Port),
            (":7070", MainFault::NotHost),
            ("no de:7070", MainFault::NotHost),
            ("\"x\":7070", MainFault::NotHost),
            ("[2001:db8::1:7070", MainFault::Unclosed),
            ("[fe80::zz]:7070", MainFault::NotIpv6),
        ] {
            let e = check_main(bad).unwrap_err();
            assert_eq!(
                e,
                MainError {
                    addr: bad.into(),
                    fault
                },
                "{bad}"
            );
        }
        assert_eq!(
            check_main("node1:0").unwrap_err().to_string(),
            "--main \"node1:0\": the port is not a number from 1 to 65535 \
             (write HOST:PORT, e.g. node1.example.org:7070)"
        );
    }

    #[test]
    fn a_refused_write_says_to_run_as_root() {
        let denied = ProvisionError::Write {
            path: "/media/pi/rootfs/etc/goodwill".into(),
            source: std::io::Error::from(std::io::ErrorKind::PermissionDenied),
        };
        let text = denied.to_string();
        assert!(
            text.starts_with("/media/pi/rootfs/etc/goodwill: permission denied")
                && text.ends_with(" (provision writes root's files and the goodwill user's key: run it as root, e.g. with sudo)"),
            "{text}"
        );
        assert!(std::error::Error::source(&denied).is_some());
        let full = ProvisionError::Write {
            path: "/media/pi/rootfs/usr/bin/goodwill".into(),
            source: std::io::Error::from(std::io::ErrorKind::StorageFull),
        };
        assert!(!full.to_string().contains("sudo"), "{full}");
    }

    #[test]
    fn conflicts_are_listed_one_a_line() {
        let e = ProvisionError::Conflicts {
            root: "/media/pi/rootfs".into(),
            conflicts: vec![
                (FORGE_CONFIG.into(), "exists with other contents".into()),
                (KEY.into(), "holds another key".into()),
            ],
        };
        assert_eq!(
            e.to_string(),
            "nothing was written:\n  /media/pi/rootfs/etc/goodwill/forge.toml exists with other \
             contents\n  /media/pi/rootfs/etc/goodwill/forger.key holds another key"
        );
    }

    #[test]
    fn the_settings_name_the_installed_paths() {
        let text = forge_config(
            &["a.example:7070".into(), "10.0.0.2:7070".into()],
            "pi4",
            &[],
        );
        let v: toml::Table = toml::from_str(&text).unwrap();
        assert!(!v.contains_key("update"));
        let k = crate::chain::crypto::Keypair::from_seed([5; 32])
            .unwrap()
            .public()
            .to_string();
        let with_key = forge_config(&["a.example:7070".into()], "pi4", std::slice::from_ref(&k));
        let u: crate::runtime::config::ForgeSettings = toml::from_str(&with_key).unwrap();
        assert_eq!(u.update.keys, vec![k]);
        assert_eq!(v["data"].as_str(), Some(FORGER_DATA));
        assert_eq!(v["genesis"].as_str(), Some(GENESIS));
        assert_eq!(v["key"].as_str(), Some(KEY));
        assert_eq!(v["board"].as_str(), Some("pi4"));
        assert_eq!(v["main"].as_array().unwrap().len(), 2);
        assert_eq!(v["status_listen"].as_str(), Some("127.0.0.1:7171"));
    }

    #[test]
    fn paths_resolve_inside_the_root_as_the_board_would() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        std::fs::create_dir_all(root.join("usr/lib/systemd")).unwrap();
        std::fs::create_dir_all(root.join("usr/bin")).unwrap();
        // An absolute link (as a distribution might make) and a relative one.
        std::os::unix::fs::symlink("/usr/lib", root.join("lib")).unwrap();
        std::os::unix::fs::symlink("usr/bin", root.join("bin")).unwrap();
        std::os::unix::fs::symlink("dash", root.join("usr/bin/sh")).unwrap();
        std::os::unix::fs::symlink("../../../../../..", root.join("usr/bin/up")).unwrap();
        assert_eq!(
            in_root(root, "/lib/systemd/system/x.service", true).unwrap(),
            root.join("usr/lib/systemd/system/x.service")
        );
        assert_eq!(
            in_root(root, "/bin/sh", true).unwrap(),
            root.join("usr/bin/dash")
        );
        assert_eq!(
            in_root(root, "/bin/sh", false).unwrap(),
            root.join("usr/bin/sh")
        );
        // `..` stops at the root.
        assert_eq!(
            in_root(root, "/usr/bin/up/etc", true).unwrap(),
            root.join("etc")
        );
        assert_eq!(
            in_root(root, "/../../etc/passwd", true).unwrap(),
            root.join("etc/passwd")
        );
        std::os::unix::fs::symlink("loop", root.join("loop")).unwrap();
        let e = in_root(root, "/loop/x", true).unwrap_err();
        assert!(e.to_string().contains("too many levels"), "{e}");
    }
}
