//! A bounds-checked reader for the parts of an ELF64 little-endian file the loader looks at:
//! the file header, program headers (`PT_LOAD`, `PT_INTERP`, `PT_DYNAMIC`) and the dynamic
//! section (`DT_NEEDED`, `DT_SONAME`, `DT_RPATH`, `DT_RUNPATH`, `DT_STRTAB`, `DT_STRSZ`).
//!
//! Every offset and size comes from an untrusted file, so all arithmetic is checked and every
//! read is bounded by the file's length and by fixed caps.

use std::ffi::OsString;
use std::fs::File;
use std::io;
use std::os::unix::ffi::OsStringExt;
use std::os::unix::fs::FileExt;

const EHDR_LEN: usize = 64;
const PHDR_LEN: usize = 56;
const DYN_LEN: usize = 16;
const ELFCLASS64: u8 = 2;
const ELFDATA2LSB: u8 = 1;
const ET_EXEC: u16 = 2;
const ET_DYN: u16 = 3;
const PN_XNUM: u16 = 0xffff;
const PT_LOAD: u32 = 1;
const PT_DYNAMIC: u32 = 2;
const PT_INTERP: u32 = 3;
const DT_NULL: u64 = 0;
const DT_NEEDED: u64 = 1;
const DT_STRTAB: u64 = 5;
const DT_STRSZ: u64 = 10;
const DT_SONAME: u64 = 14;
const DT_RPATH: u64 = 15;
const DT_RUNPATH: u64 = 29;

/// Caps on what one file may make us read.
const MAX_INTERP_LEN: u64 = 4096;
/// The largest program header table read: the kernel's own bound (`load_elf_phdrs` refuses
/// more than 64 KiB), whatever `e_phnum` or a `PN_XNUM` count says.
const MAX_PHDRS_LEN: u64 = 64 << 10;
/// The most `DT_NEEDED` entries of one object: many entries may name one long string, which
/// each would copy.
const MAX_NEEDED: usize = 1024;
/// The longest library name (`DT_NEEDED`, `DT_SONAME`): the kernel's `PATH_MAX`, since no
/// longer name can be opened.
const MAX_NAME_LEN: usize = 4096;
/// The longest search path list (`DT_RPATH`, `DT_RUNPATH`).
pub(crate) const MAX_PATH_LIST_LEN: usize = 64 << 10;
const MAX_DYNAMIC_LEN: u64 = 1 << 20;
const MAX_STRTAB_LEN: u64 = 16 << 20;

/// Why a file could not be parsed, before the path is attached.
#[derive(Debug)]
pub(crate) enum ParseError {
    NotElf,
    Truncated(&'static str),
    Unsupported(String),
    Io(io::Error),
}

/// Random access to the bytes of a file (or of a test buffer).
pub(crate) trait Source {
    /// Total length in bytes.
    fn len(&self) -> u64;
    /// Fills `buf` from `offset`; the caller has checked the range.
    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()>;
}

impl Source for [u8] {
    fn len(&self) -> u64 {
        <[u8]>::len(self) as u64
    }

    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        let start = usize::try_from(offset).map_err(|_| io::ErrorKind::UnexpectedEof)?;
        let src = start
            .checked_add(buf.len())
            .and_then(|end| self.get(start..end))
            .ok_or(io::ErrorKind::UnexpectedEof)?;
        buf.copy_from_slice(src);
        Ok(())
    }
}

/// A file with its length taken once, at open.
pub(crate) struct FileSource {
    file: File,
    len: u64,
    /// Bytes read so far.
    read: std::cell::Cell<u64>,
}

impl FileSource {
    pub(crate) fn new(file: File) -> io::Result<FileSource> {
        let len = file.metadata()?.len();
        Ok(FileSource {
            file,
            len,
            read: std::cell::Cell::new(0),
        })
    }

    /// Bytes read so far.
    pub(crate) fn read(&self) -> u64 {
        self.read.get()
    }
}

impl Source for FileSource {
    fn len(&self) -> u64 {
        self.len
    }

    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        self.read
            .set(self.read.get().saturating_add(buf.len() as u64));
        FileExt::read_exact_at(&self.file, buf, offset)
    }
}

/// What the loader needs to know about one ELF object.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct ElfInfo {
    /// `e_machine`, compared between an object and the libraries it loads.
    pub machine: u16,
    /// The `PT_INTERP` path, if any.
    pub interp: Option<OsString>,
    /// `DT_NEEDED` names, in order.
    pub needed: Vec<OsString>,
    /// `DT_SONAME`, if any.
    pub soname: Option<OsString>,
    /// `DT_RPATH`, if any (glibc ignores it when `DT_RUNPATH` is present).
    pub rpath: Option<OsString>,
    /// `DT_RUNPATH`, if any.
    pub runpath: Option<OsString>,
    /// The file's device and inode, when it was read from a file (set by the caller).
    pub file_id: Option<(u64, u64)>,
}

impl ElfInfo {
    /// The bytes of strings this holds: what keeping it costs, counted against a budget.
    pub fn string_bytes(&self) -> usize {
        let names = self.needed.iter().chain(&self.soname).chain(&self.interp);
        let lists = self.rpath.iter().chain(&self.runpath);
        names.chain(lists).map(|s| s.len()).sum()
    }
}

/// A `PT_LOAD` segment, used to map virtual addresses back to file offsets.
#[derive(Debug, Clone, Copy)]
struct Load {
    vaddr: u64,
    offset: u64,
    filesz: u64,
}

/// A `(offset, size)` range in the file.
#[derive(Debug, Clone, Copy)]
struct Range {
    offset: u64,
    size: u64,
}

/// Parses the loader-relevant parts of an ELF64 little-endian executable or shared object.
pub(crate) fn parse(src: &(impl Source + ?Sized)) -> Result<ElfInfo, ParseError> {
    let ehdr = read_header(src)?;
    let machine = u16_at(&ehdr, 18);
    let phdrs = read_phdrs(src, &ehdr)?;
    let mut loads = Vec::new();
    let mut interp = None;
    let mut dynamic = None;
    for ph in phdrs.chunks_exact(PHDR_LEN) {
        let range = Range {
            offset: u64_at(ph, 8),
            size: u64_at(ph, 32),
        };
        match u32_at(ph, 0) {
            PT_LOAD => loads.push(Load {
                vaddr: u64_at(ph, 16),
                offset: range.offset,
                filesz: range.size,
            }),
            PT_INTERP => interp = Some(range),
            PT_DYNAMIC => dynamic = Some(range),
            _ => {}
        }
    }
    let mut info = ElfInfo {
        machine,
        ..ElfInfo::default()
    };
    if let Some(range) = interp {
        let bytes = read_range(src, range, MAX_INTERP_LEN, "PT_INTERP")?;
        info.interp = Some(c_string(&bytes, 0).ok_or(ParseError::Truncated("PT_INTERP"))?);
    }
    if let Some(range) = dynamic {
        read_dynamic(src, range, &loads, &mut info)?;
    }
    Ok(info)
}

/// Reads and validates the 64-byte file header.
fn read_header(src: &(impl Source + ?Sized)) -> Result<[u8; EHDR_LEN], ParseError> {
    let mut ident = [0u8; 6];
    if src.len() < ident.len() as u64 {
        return Err(ParseError::NotElf);
    }
    src.read_exact_at(0, &mut ident).map_err(ParseError::Io)?;
    if ident[..4] != *b"\x7fELF" {
        return Err(ParseError::NotElf);
    }
    if ident[4] != ELFCLASS64 {
        return Err(ParseError::Unsupported(format!(
            "ELF class {} (only 64-bit is supported)",
            ident[4]
        )));
    }
    if ident[5] != ELFDATA2LSB {
        return Err(ParseError::Unsupported(format!(
            "ELF data encoding {} (only little-endian is supported)",
            ident[5]
        )));
    }
    let mut ehdr = [0u8; EHDR_LEN];
    read_checked(src, 0, &mut ehdr, "file header")?;
    let e_type = u16_at(&ehdr, 16);
    if e_type != ET_EXEC && e_type != ET_DYN {
        return Err(ParseError::Unsupported(format!(
            "ELF type {e_type} is not an executable or shared object"
        )));
    }
    Ok(ehdr)
}

/// Reads the program header table.
fn read_phdrs(src: &(impl Source + ?Sized), ehdr: &[u8]) -> Result<Vec<u8>, ParseError> {
    let phoff = u64_at(ehdr, 32);
    let phentsize = u16_at(ehdr, 54);
    let mut phnum = u64::from(u16_at(ehdr, 56));
    if phnum == u64::from(PN_XNUM) {
        // The real count lives in section header 0's sh_info.
        let mut sh_info = [0u8; 4];
        let shoff = u64_at(ehdr, 40);
        read_checked(
            src,
            shoff
                .checked_add(44)
                .ok_or(ParseError::Truncated("section header 0"))?,
            &mut sh_info,
            "section header 0",
        )?;
        phnum = u64::from(u32::from_le_bytes(sh_info));
    }
    if phnum == 0 {
        return Ok(Vec::new());
    }
    if usize::from(phentsize) != PHDR_LEN {
        return Err(ParseError::Truncated("program header entry size"));
    }
    let size = phnum
        .checked_mul(PHDR_LEN as u64)
        .ok_or(ParseError::Truncated("program headers"))?;
    read_range(
        src,
        Range {
            offset: phoff,
            size,
        },
        MAX_PHDRS_LEN,
        "program headers",
    )
}

/// Walks the dynamic section and resolves its string references.
fn read_dynamic(
    src: &(impl Source + ?Sized),
    range: Range,
    loads: &[Load],
    info: &mut ElfInfo,
) -> Result<(), ParseError> {
    let bytes = read_range(src, range, MAX_DYNAMIC_LEN, "PT_DYNAMIC")?;
    let mut needed = Vec::new();
    let (mut strtab, mut strsz, mut soname, mut rpath, mut runpath) =
        (None, None, None, None, None);
    for entry in bytes.chunks_exact(DYN_LEN) {
        let value = u64_at(entry, 8);
        match u64_at(entry, 0) {
            DT_NULL => break,
            DT_NEEDED => needed.push(value),
            DT_STRTAB => strtab = Some(value),
            DT_STRSZ => strsz = Some(value),
            DT_SONAME => soname = Some(value),
            DT_RPATH => rpath = Some(value),
            DT_RUNPATH => runpath = Some(value),
            _ => {}
        }
    }
    let uses_strings =
        !needed.is_empty() || soname.is_some() || rpath.is_some() || runpath.is_some();
    if !uses_strings {
        return Ok(());
    }
    if needed.len() > MAX_NEEDED {
        return Err(ParseError::Unsupported(format!(
            "{} DT_NEEDED entries (at most {MAX_NEEDED} are read)",
            needed.len()
        )));
    }
    let strtab = strtab.ok_or(ParseError::Truncated("dynamic section has no DT_STRTAB"))?;
    let table = read_strtab(src, strtab, strsz, loads)?;
    let string = |offset: u64, most: usize, what: &str| {
        let s = usize::try_from(offset)
            .ok()
            .and_then(|o| c_string(&table, o))
            .ok_or(ParseError::Truncated("dynamic string table"))?;
        if s.len() > most {
            return Err(ParseError::Unsupported(format!(
                "a {what} of {} bytes (at most {most} are read)",
                s.len()
            )));
        }
        Ok(s)
    };
    let name = |offset| string(offset, MAX_NAME_LEN, "library name");
    let list = |offset| string(offset, MAX_PATH_LIST_LEN, "search path list");
    info.needed = needed.into_iter().map(name).collect::<Result<_, _>>()?;
    info.soname = soname.map(name).transpose()?;
    info.rpath = rpath.map(list).transpose()?;
    info.runpath = runpath.map(list).transpose()?;
    Ok(())
}

/// Reads the dynamic string table, mapping its address through the `PT_LOAD` segments.
fn read_strtab(
    src: &(impl Source + ?Sized),
    vaddr: u64,
    strsz: Option<u64>,
    loads: &[Load],
) -> Result<Vec<u8>, ParseError> {
    let load = loads
        .iter()
        .find(|l| vaddr >= l.vaddr && vaddr - l.vaddr < l.filesz)
        .ok_or(ParseError::Truncated(
            "DT_STRTAB is outside every PT_LOAD segment",
        ))?;
    let delta = vaddr - load.vaddr;
    let offset = load
        .offset
        .checked_add(delta)
        .ok_or(ParseError::Truncated("DT_STRTAB"))?;
    let in_segment = load.filesz - delta;
    let size = strsz.unwrap_or(in_segment).min(in_segment);
    read_range(
        src,
        Range { offset, size },
        MAX_STRTAB_LEN,
        "dynamic string table",
    )
}

/// Reads a range after checking it against `cap` and the file's length.
fn read_range(
    src: &(impl Source + ?Sized),
    range: Range,
    cap: u64,
    what: &'static str,
) -> Result<Vec<u8>, ParseError> {
    if range.size > cap {
        return Err(ParseError::Truncated(what));
    }
    let len = usize::try_from(range.size).map_err(|_| ParseError::Truncated(what))?;
    let mut buf = vec![0u8; len];
    read_checked(src, range.offset, &mut buf, what)?;
    Ok(buf)
}

/// Fills `buf` from `offset` if the whole range lies inside the file.
fn read_checked(
    src: &(impl Source + ?Sized),
    offset: u64,
    buf: &mut [u8],
    what: &'static str,
) -> Result<(), ParseError> {
    let end = offset
        .checked_add(buf.len() as u64)
        .ok_or(ParseError::Truncated(what))?;
    if end > src.len() {
        return Err(ParseError::Truncated(what));
    }
    src.read_exact_at(offset, buf).map_err(|e| match e.kind() {
        io::ErrorKind::UnexpectedEof => ParseError::Truncated(what),
        _ => ParseError::Io(e),
    })
}

/// The NUL-terminated string starting at `offset`, if it is terminated inside `table`.
fn c_string(table: &[u8], offset: usize) -> Option<OsString> {
    let rest = table.get(offset..)?;
    let end = rest.iter().position(|&b| b == 0)?;
    Some(OsString::from_vec(rest[..end].to_vec()))
}

fn u16_at(bytes: &[u8], at: usize) -> u16 {
    let mut out = [0u8; 2];
    if let Some(src) = bytes.get(at..at + 2) {
        out.copy_from_slice(src);
    }
    u16::from_le_bytes(out)
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    let mut out = [0u8; 4];
    if let Some(src) = bytes.get(at..at + 4) {
        out.copy_from_slice(src);
    }
    u32::from_le_bytes(out)
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    let mut out = [0u8; 8];
    if let Some(src) = bytes.get(at..at + 8) {
        out.copy_from_slice(src);
    }
    u64::from_le_bytes(out)
}
