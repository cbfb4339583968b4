//! The functions' code: the tracker binary, checked to be one Lambda's
//! `provided.al2023` can run, zipped as `bootstrap` (mode 0755).
//!
//! The check reads the ELF file itself (no tool needed): it must be a 64-bit
//! little-endian x86-64 or aarch64 executable matching `lambda.architecture`,
//! not linked against musl's loader (absent in Lambda), and its version needs
//! (`DT_VERNEED`, what `objdump -T` shows as `GLIBC_2.x`) must not ask for a
//! glibc newer than Amazon Linux 2023's 2.34. The needs are read through the
//! dynamic segment, as the loader does, so binaries stripped of their section
//! headers are checked too.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::settings::Architecture;

/// The newest glibc `provided.al2023` has.
pub const LAMBDA_GLIBC: GlibcVersion = GlibcVersion(2, 34);
/// Lambda's limit on unzipped code (250 MB).
pub const MAX_UNZIPPED_BYTES: u64 = 262_144_000;

const HOW_TO_BUILD: &str = "build a Lambda-compatible binary with `cargo build --release` on a host with glibc 2.34 or older, \
     or anywhere with cargo-zigbuild: `cargo zigbuild --release --target x86_64-unknown-linux-gnu.2.34` \
     (`--target aarch64-unknown-linux-gnu.2.34` for lambda.architecture = \"arm64\"), \
     then pass it with `tracker deploy --lambda-binary target/<target>/release/tracker`";

/// A binary that cannot be packaged for Lambda.
#[derive(Debug, thiserror::Error)]
pub enum PackageError {
    #[error("cannot read the Lambda binary {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{path} is not a Linux executable (ELF) that Lambda can run: {problem}; {HOW_TO_BUILD}"
    )]
    NotLambdaElf { path: PathBuf, problem: String },
    #[error(
        "{path} is built for {found}, but settings' `lambda.architecture` is \"{wanted}\": \
         use a binary built for {wanted_machine}, or set lambda.architecture = \"{found_setting}\"; {HOW_TO_BUILD}"
    )]
    WrongArchitecture {
        path: PathBuf,
        found: Machine,
        wanted: &'static str,
        wanted_machine: Machine,
        found_setting: &'static str,
    },
    #[error(
        "{path} needs {found} but Lambda's provided.al2023 has glibc {LAMBDA_GLIBC} (this binary was \
         built on a newer system); {HOW_TO_BUILD}"
    )]
    GlibcTooNew { path: PathBuf, found: GlibcVersion },
    #[error(
        "{path} is {size} bytes; Lambda accepts at most {MAX_UNZIPPED_BYTES} bytes of unzipped code \
         (a debug build is too big): {HOW_TO_BUILD}"
    )]
    TooLarge { path: PathBuf, size: u64 },
    #[error("cannot zip {path}: {message}")]
    Zip { path: PathBuf, message: String },
}

/// The CPU an ELF file is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Machine {
    X86_64,
    Aarch64,
}

impl Machine {
    fn of(architecture: Architecture) -> Machine {
        match architecture {
            Architecture::X86_64 => Machine::X86_64,
            Architecture::Arm64 => Machine::Aarch64,
        }
    }

    fn setting(self) -> &'static str {
        match self {
            Machine::X86_64 => "x86_64",
            Machine::Aarch64 => "arm64",
        }
    }
}

impl fmt::Display for Machine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Machine::X86_64 => "x86-64",
            Machine::Aarch64 => "aarch64 (arm64)",
        })
    }
}

/// A `GLIBC_<major>.<minor>` version need (`GLIBC_2.2.5` counts as 2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct GlibcVersion(pub u32, pub u32);

impl GlibcVersion {
    /// `GLIBC_2.34` → 2.34; anything else (`GLIBC_PRIVATE`, `GCC_3.0`) → None.
    pub fn parse(name: &str) -> Option<GlibcVersion> {
        let mut parts = name.strip_prefix("GLIBC_")?.split('.');
        let major = parts.next()?.parse().ok()?;
        let minor = parts.next().map_or(Some(0), |m| m.parse().ok())?;
        Some(GlibcVersion(major, minor))
    }
}

impl fmt::Display for GlibcVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "GLIBC_{}.{}", self.0, self.1)
    }
}

/// What the check found in an ELF file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElfInfo {
    pub machine: Machine,
    /// The program interpreter (`/lib64/ld-linux-x86-64.so.2`); None when static.
    pub interpreter: Option<String>,
    /// The highest `GLIBC_x.y` version need; None when it needs none (static).
    pub max_glibc: Option<GlibcVersion>,
}

/// The zipped function code.
#[derive(Debug, Clone)]
pub struct Package {
    /// The binary that was zipped.
    pub binary: PathBuf,
    pub elf: ElfInfo,
    /// The zip file's bytes (one entry: `bootstrap`, mode 0755).
    pub zip: Vec<u8>,
    /// Hex SHA-256 of [`Package::zip`]: names the artifact, so an unchanged
    /// binary is neither uploaded again nor redeployed.
    pub sha256: String,
}

impl Package {
    /// Lambda's `CodeSha256` of this zip.
    pub fn code_sha256(&self) -> String {
        code_sha256(&self.zip)
    }
}

/// Lambda's `CodeSha256` of a zip: the base64 of its SHA-256.
pub fn code_sha256(zip: &[u8]) -> String {
    base64_encode(&Sha256::digest(zip))
}

/// The binary to package: `--lambda-binary`, else the running executable.
pub fn default_binary(explicit: Option<&Path>) -> Result<PathBuf, PackageError> {
    match explicit {
        Some(path) => Ok(path.to_owned()),
        None => std::env::current_exe().map_err(|source| PackageError::Read {
            path: PathBuf::from("(the running tracker executable)"),
            source,
        }),
    }
}

/// A file shipped beside `bootstrap` (the user's detection rules); a path
/// ending in `/` is a folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtraFile {
    /// Path inside the zip (`/var/task/<path>` in the function).
    pub path: String,
    pub bytes: Vec<u8>,
}

/// Reads, checks and zips `binary` for functions of `architecture`.
pub fn package(binary: &Path, architecture: Architecture) -> Result<Package, PackageError> {
    package_with(binary, architecture, &[])
}

/// [`package`], with `extra` files zipped after `bootstrap`.
pub fn package_with(
    binary: &Path,
    architecture: Architecture,
    extra: &[ExtraFile],
) -> Result<Package, PackageError> {
    let bytes = std::fs::read(binary).map_err(|source| PackageError::Read {
        path: binary.into(),
        source,
    })?;
    let elf = check(binary, &bytes, architecture)?;
    let zip = zip_bootstrap(&bytes, extra).map_err(|e| PackageError::Zip {
        path: binary.into(),
        message: e.to_string(),
    })?;
    let sha256 = Sha256::digest(&zip)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok(Package {
        binary: binary.into(),
        elf,
        zip,
        sha256,
    })
}

/// Checks that Lambda can run `bytes` (the file at `path`) on `architecture`.
pub fn check(
    path: &Path,
    bytes: &[u8],
    architecture: Architecture,
) -> Result<ElfInfo, PackageError> {
    let elf = inspect(bytes).map_err(|problem| PackageError::NotLambdaElf {
        path: path.into(),
        problem,
    })?;
    let wanted = Machine::of(architecture);
    if elf.machine != wanted {
        return Err(PackageError::WrongArchitecture {
            path: path.into(),
            found: elf.machine,
            wanted: wanted.setting(),
            wanted_machine: wanted,
            found_setting: elf.machine.setting(),
        });
    }
    if let Some(interpreter) = &elf.interpreter
        && interpreter.contains("musl")
    {
        return Err(PackageError::NotLambdaElf {
            path: path.into(),
            problem: format!(
                "it is linked dynamically against musl (interpreter {interpreter}), which Lambda does not have"
            ),
        });
    }
    if let Some(found) = elf.max_glibc
        && found > LAMBDA_GLIBC
    {
        return Err(PackageError::GlibcTooNew {
            path: path.into(),
            found,
        });
    }
    let size = bytes.len() as u64;
    if size > MAX_UNZIPPED_BYTES {
        return Err(PackageError::TooLarge {
            path: path.into(),
            size,
        });
    }
    Ok(elf)
}

/// One `bootstrap` entry, deflated, mode 0755, then the extra files (0644),
/// with zip's fixed 1980 date so the same inputs always give the same zip
/// (and the same artifact name).
fn zip_bootstrap(binary: &[u8], extra: &[ExtraFile]) -> zip::result::ZipResult<Vec<u8>> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .unix_permissions(0o755);
    writer.start_file("bootstrap", options)?;
    writer.write_all(binary)?;
    for file in extra {
        if file.path.ends_with('/') {
            writer.add_directory(file.path.as_str(), options)?;
        } else {
            writer.start_file(file.path.as_str(), options.unix_permissions(0o644))?;
            writer.write_all(&file.bytes)?;
        }
    }
    Ok(writer.finish()?.into_inner())
}

// ELF constants (see elf(5)).
const ELFCLASS64: u8 = 2;
const ELFDATA2LSB: u8 = 1;
const ET_EXEC: u16 = 2;
const ET_DYN: u16 = 3;
const EM_X86_64: u16 = 62;
const EM_AARCH64: u16 = 183;
const PT_LOAD: u32 = 1;
const PT_DYNAMIC: u32 = 2;
const PT_INTERP: u32 = 3;
const DT_NULL: u64 = 0;
const DT_STRTAB: u64 = 5;
const DT_VERNEED: u64 = 0x6fff_fffe;
const DT_VERNEEDNUM: u64 = 0x6fff_ffff;

/// Bounds-checked little-endian reads.
struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn slice(&self, offset: u64, len: u64) -> Result<&[u8], String> {
        let start = usize::try_from(offset).map_err(|_| "offset out of range".to_owned())?;
        let len = usize::try_from(len).map_err(|_| "length out of range".to_owned())?;
        start
            .checked_add(len)
            .and_then(|end| self.0.get(start..end))
            .ok_or_else(|| format!("truncated (needs bytes {offset}..{})", offset + len as u64))
    }
    fn u16(&self, offset: u64) -> Result<u16, String> {
        let b = self.slice(offset, 2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }
    fn u32(&self, offset: u64) -> Result<u32, String> {
        let b = self.slice(offset, 4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&self, offset: u64) -> Result<u64, String> {
        let b = self.slice(offset, 8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }
    /// A NUL-terminated string at `offset`.
    fn c_str(&self, offset: u64) -> Result<&str, String> {
        let start = usize::try_from(offset).map_err(|_| "offset out of range".to_owned())?;
        let rest = self
            .0
            .get(start..)
            .ok_or_else(|| "string out of range".to_owned())?;
        let end = rest
            .iter()
            .position(|&b| b == 0)
            .ok_or_else(|| "unterminated string".to_owned())?;
        std::str::from_utf8(&rest[..end]).map_err(|_| "string is not UTF-8".to_owned())
    }
}

struct Segment {
    kind: u32,
    offset: u64,
    vaddr: u64,
    filesz: u64,
}

/// Reads the machine, interpreter and highest glibc version need of an ELF
/// file; the error says what is wrong with it.
pub fn inspect(bytes: &[u8]) -> Result<ElfInfo, String> {
    let elf = Bytes(bytes);
    if elf.slice(0, 4).ok() != Some(b"\x7fELF".as_slice()) {
        return Err("it does not start with the ELF magic number".into());
    }
    let ident = elf.slice(0, 16)?;
    if ident[4] != ELFCLASS64 || ident[5] != ELFDATA2LSB {
        return Err("it is not a 64-bit little-endian ELF file".into());
    }
    let kind = elf.u16(16)?;
    if kind != ET_EXEC && kind != ET_DYN {
        return Err(format!(
            "it is not an executable (ELF type {kind}, e.g. an object file or core dump)"
        ));
    }
    let machine = match elf.u16(18)? {
        EM_X86_64 => Machine::X86_64,
        EM_AARCH64 => Machine::Aarch64,
        other => {
            return Err(format!(
                "it is for ELF machine {other}, not x86-64 or aarch64"
            ));
        }
    };
    let phoff = elf.u64(0x20)?;
    let phentsize = u64::from(elf.u16(0x36)?);
    let phnum = u64::from(elf.u16(0x38)?);
    if phnum > 0 && phentsize < 56 {
        return Err(format!("its program headers are {phentsize} bytes, not 56"));
    }
    let mut segments = Vec::new();
    for i in 0..phnum {
        let at = phoff + i * phentsize;
        segments.push(Segment {
            kind: elf.u32(at)?,
            offset: elf.u64(at + 8)?,
            vaddr: elf.u64(at + 16)?,
            filesz: elf.u64(at + 32)?,
        });
    }
    let interpreter = match segments.iter().find(|s| s.kind == PT_INTERP) {
        Some(s) => {
            let raw = elf.slice(s.offset, s.filesz)?;
            let text = raw.split(|&b| b == 0).next().unwrap_or_default();
            Some(String::from_utf8_lossy(text).into_owned())
        }
        None => None,
    };
    let max_glibc = match segments.iter().find(|s| s.kind == PT_DYNAMIC) {
        Some(dynamic) => glibc_needs(&elf, &segments, dynamic)?.into_iter().max(),
        None => None,
    };
    Ok(ElfInfo {
        machine,
        interpreter,
        max_glibc,
    })
}

/// Every `GLIBC_x.y` version need listed in the dynamic section.
fn glibc_needs(
    elf: &Bytes<'_>,
    segments: &[Segment],
    dynamic: &Segment,
) -> Result<Vec<GlibcVersion>, String> {
    let (mut strtab, mut verneed, mut verneed_count) = (None, None, 0u64);
    let entries = dynamic.filesz / 16;
    for i in 0..entries {
        let at = dynamic.offset + i * 16;
        let (tag, value) = (elf.u64(at)?, elf.u64(at + 8)?);
        match tag {
            DT_NULL => break,
            DT_STRTAB => strtab = Some(value),
            DT_VERNEED => verneed = Some(value),
            DT_VERNEEDNUM => verneed_count = value,
            _ => {}
        }
    }
    let (Some(strtab), Some(verneed)) = (strtab, verneed) else {
        return Ok(Vec::new());
    };
    // Addresses in the dynamic section are virtual: map them to file offsets.
    let to_offset = |address: u64| {
        segments
            .iter()
            .find(|s| {
                s.kind == PT_LOAD && s.vaddr <= address && address - s.vaddr < s.filesz.max(1)
            })
            .map(|s| address - s.vaddr + s.offset)
            .ok_or_else(|| format!("address {address:#x} is outside every loaded segment"))
    };
    let strtab = to_offset(strtab)?;
    let mut needs = Vec::new();
    let mut entry = to_offset(verneed)?;
    // Each Elf64_Verneed (16 bytes) names a library and chains its
    // Elf64_Vernaux entries (16 bytes), each naming one version.
    for _ in 0..verneed_count.min(1024) {
        let aux_count = elf.u16(entry + 2)?;
        let mut aux = entry + u64::from(elf.u32(entry + 8)?);
        for _ in 0..aux_count {
            let name = elf.c_str(strtab + u64::from(elf.u32(aux + 8)?))?;
            needs.extend(GlibcVersion::parse(name));
            let next = elf.u32(aux + 12)?;
            if next == 0 {
                break;
            }
            aux += u64::from(next);
        }
        let next = elf.u32(entry + 12)?;
        if next == 0 {
            break;
        }
        entry += u64::from(next);
    }
    Ok(needs)
}

fn base64_encode(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = (u32::from(chunk[0]) << 16)
            | (u32::from(chunk.get(1).copied().unwrap_or(0)) << 8)
            | u32::from(chunk.get(2).copied().unwrap_or(0));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Builds small ELF files for tests: a header, one `PT_LOAD` over the whole
/// file, optionally a `PT_INTERP`, and a dynamic section with version needs.
#[doc(hidden)]
pub mod synthetic {
    /// An executable for `machine` (an ELF `e_machine`) needing `versions`
    /// of `libc.so.6`, with `interpreter` if given.
    pub fn elf(machine: u16, versions: &[&str], interpreter: Option<&str>) -> Vec<u8> {
        const BASE: u64 = 0x40_0000;
        let phnum: u64 = 3;
        let header_len = 64 + 56 * phnum;
        // Layout after the headers: interp, strtab, verneed, dynamic.
        let interp = interpreter.map(|i| format!("{i}\0")).unwrap_or_default();
        let interp_at = header_len;
        let mut strtab = b"\0libc.so.6\0".to_vec();
        let mut name_offsets = Vec::new();
        for v in versions {
            name_offsets.push(strtab.len() as u32);
            strtab.extend_from_slice(v.as_bytes());
            strtab.push(0);
        }
        let strtab_at = interp_at + interp.len() as u64;
        let verneed_at = strtab_at + strtab.len() as u64;
        let mut verneed = Vec::new();
        verneed.extend_from_slice(&1u16.to_le_bytes()); // vn_version
        verneed.extend_from_slice(&(versions.len() as u16).to_le_bytes()); // vn_cnt
        verneed.extend_from_slice(&1u32.to_le_bytes()); // vn_file: "libc.so.6"
        verneed.extend_from_slice(&16u32.to_le_bytes()); // vn_aux
        verneed.extend_from_slice(&0u32.to_le_bytes()); // vn_next
        for (i, name) in name_offsets.iter().enumerate() {
            let last = i + 1 == name_offsets.len();
            verneed.extend_from_slice(&0u32.to_le_bytes()); // vna_hash
            verneed.extend_from_slice(&0u16.to_le_bytes()); // vna_flags
            verneed.extend_from_slice(&(i as u16 + 2).to_le_bytes()); // vna_other
            verneed.extend_from_slice(&name.to_le_bytes()); // vna_name
            verneed.extend_from_slice(&(if last { 0u32 } else { 16 }).to_le_bytes());
        }
        let dynamic_at = verneed_at + verneed.len() as u64;
        let mut dynamic = Vec::new();
        for (tag, value) in [
            (super::DT_STRTAB, BASE + strtab_at),
            (super::DT_VERNEED, BASE + verneed_at),
            (super::DT_VERNEEDNUM, 1),
            (super::DT_NULL, 0),
        ] {
            dynamic.extend_from_slice(&tag.to_le_bytes());
            dynamic.extend_from_slice(&value.to_le_bytes());
        }
        let total = dynamic_at + dynamic.len() as u64;

        let mut out = Vec::new();
        out.extend_from_slice(b"\x7fELF");
        out.extend_from_slice(&[2, 1, 1, 0]);
        out.extend_from_slice(&[0; 8]);
        out.extend_from_slice(&super::ET_DYN.to_le_bytes());
        out.extend_from_slice(&machine.to_le_bytes());
        out.extend_from_slice(&1u32.to_le_bytes()); // e_version
        out.extend_from_slice(&BASE.to_le_bytes()); // e_entry
        out.extend_from_slice(&64u64.to_le_bytes()); // e_phoff
        out.extend_from_slice(&0u64.to_le_bytes()); // e_shoff
        out.extend_from_slice(&0u32.to_le_bytes()); // e_flags
        out.extend_from_slice(&64u16.to_le_bytes()); // e_ehsize
        out.extend_from_slice(&56u16.to_le_bytes()); // e_phentsize
        out.extend_from_slice(&(phnum as u16).to_le_bytes()); // e_phnum
        out.extend_from_slice(&[0; 6]); // e_shentsize, e_shnum, e_shstrndx
        let mut segment = |kind: u32, offset: u64, size: u64| {
            out.extend_from_slice(&kind.to_le_bytes());
            out.extend_from_slice(&4u32.to_le_bytes()); // p_flags
            out.extend_from_slice(&offset.to_le_bytes());
            out.extend_from_slice(&(BASE + offset).to_le_bytes()); // p_vaddr
            out.extend_from_slice(&(BASE + offset).to_le_bytes()); // p_paddr
            out.extend_from_slice(&size.to_le_bytes()); // p_filesz
            out.extend_from_slice(&size.to_le_bytes()); // p_memsz
            out.extend_from_slice(&8u64.to_le_bytes()); // p_align
        };
        segment(super::PT_LOAD, 0, total);
        if interpreter.is_some() {
            segment(super::PT_INTERP, interp_at, interp.len() as u64);
        } else {
            segment(0, 0, 0); // PT_NULL
        }
        segment(super::PT_DYNAMIC, dynamic_at, dynamic.len() as u64);
        out.extend_from_slice(interp.as_bytes());
        out.extend_from_slice(&strtab);
        out.extend_from_slice(&verneed);
        out.extend_from_slice(&dynamic);
        out
    }

    pub const X86_64: u16 = super::EM_X86_64;
    pub const AARCH64: u16 = super::EM_AARCH64;
}

#[cfg(test)]
mod tests {
    use super::*;

    const LD: Option<&str> = Some("/lib64/ld-linux-x86-64.so.2");

    fn check_bytes(bytes: &[u8], arch: Architecture) -> Result<ElfInfo, PackageError> {
        check(Path::new("bin"), bytes, arch)
    }

    #[test]
    fn reads_the_highest_glibc_need() {
        let elf = synthetic::elf(synthetic::X86_64, &["GLIBC_2.2.5", "GLIBC_2.34"], LD);
        let info = inspect(&elf).unwrap();
        assert_eq!(info.machine, Machine::X86_64);
        assert_eq!(info.max_glibc, Some(GlibcVersion(2, 34)));
        assert_eq!(info.interpreter.as_deref(), LD);
        assert!(check_bytes(&elf, Architecture::X86_64).is_ok());
    }

    #[test]
    fn refuses_a_newer_glibc_with_how_to_build() {
        let elf = synthetic::elf(synthetic::X86_64, &["GLIBC_2.38", "GLIBC_PRIVATE"], LD);
        let e = check_bytes(&elf, Architecture::X86_64)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("GLIBC_2.38") && e.contains("2.34") && e.contains("cargo zigbuild"),
            "{e}"
        );
    }

    #[test]
    fn refuses_the_wrong_architecture_and_non_elf() {
        let arm = synthetic::elf(synthetic::AARCH64, &["GLIBC_2.17"], None);
        let e = check_bytes(&arm, Architecture::X86_64)
            .unwrap_err()
            .to_string();
        assert!(e.contains("aarch64") && e.contains("arm64"), "{e}");
        assert!(check_bytes(&arm, Architecture::Arm64).is_ok());
        for bad in [
            b"#!/bin/sh\necho hi\n".to_vec(),
            b"\x7fELF".to_vec(),
            synthetic::elf(3, &[], None),
        ] {
            let e = check_bytes(&bad, Architecture::X86_64)
                .unwrap_err()
                .to_string();
            assert!(e.contains("not a Linux executable"), "{e}");
        }
        let mut truncated = synthetic::elf(synthetic::X86_64, &["GLIBC_2.17"], LD);
        truncated.truncate(truncated.len() - 20);
        assert!(inspect(&truncated).is_err());
    }

    #[test]
    fn refuses_musl_dynamic_linking() {
        let elf = synthetic::elf(synthetic::X86_64, &[], Some("/lib/ld-musl-x86_64.so.1"));
        let e = check_bytes(&elf, Architecture::X86_64)
            .unwrap_err()
            .to_string();
        assert!(e.contains("musl"), "{e}");
    }

    #[test]
    fn this_test_binary_is_readable() {
        let path = std::env::current_exe().unwrap();
        let info = inspect(&std::fs::read(path).unwrap()).unwrap();
        assert!(info.max_glibc.is_some());
    }

    /// A small x86-64 binary Lambda could run, in `dir`.
    fn lambda_binary(dir: &Path) -> PathBuf {
        let path = dir.join("tracker");
        std::fs::write(
            &path,
            synthetic::elf(synthetic::X86_64, &["GLIBC_2.17"], LD),
        )
        .unwrap();
        path
    }

    #[test]
    fn zips_bootstrap_0755_reproducibly() {
        let dir = tempfile::tempdir().unwrap();
        let path = lambda_binary(dir.path());
        let a = package(&path, Architecture::X86_64).unwrap();
        let b = package(&path, Architecture::X86_64).unwrap();
        assert_eq!(a.sha256, b.sha256);
        assert_eq!(a.sha256.len(), 64);
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(a.zip.clone())).unwrap();
        assert_eq!(archive.len(), 1);
        let entry = archive.by_index(0).unwrap();
        assert_eq!(entry.name().unwrap(), "bootstrap");
        assert_eq!(entry.unix_mode().map(|m| m & 0o777), Some(0o755));
    }

    #[test]
    fn rule_files_ride_beside_bootstrap_and_change_the_artifact() {
        let dir = tempfile::tempdir().unwrap();
        let path = lambda_binary(dir.path());
        let rule = ExtraFile {
            path: "rules/0/root.yml".into(),
            bytes: b"title: root".to_vec(),
        };
        let plain = package(&path, Architecture::X86_64).unwrap();
        let with_rules = package_with(&path, Architecture::X86_64, &[rule]).unwrap();
        assert_ne!(plain.sha256, with_rules.sha256);
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(with_rules.zip)).unwrap();
        assert_eq!(archive.len(), 2);
        let mut entry = archive.by_index(1).unwrap();
        assert_eq!(entry.name().unwrap(), "rules/0/root.yml");
        assert_eq!(entry.unix_mode().map(|m| m & 0o777), Some(0o644));
        let mut text = String::new();
        std::io::Read::read_to_string(&mut entry, &mut text).unwrap();
        assert_eq!(text, "title: root");
    }

    #[test]
    fn base64_matches_known_values() {
        assert_eq!(base64_encode(b""), "");
        assert_eq!(base64_encode(b"f"), "Zg==");
        assert_eq!(base64_encode(b"fo"), "Zm8=");
        assert_eq!(base64_encode(b"foobar"), "Zm9vYmFy");
    }
}
