//! What makes a SQLite connection fit to hand to a module: bounds on what
//! one statement may build, built-ins whose cost is quadratic replaced by
//! linear ones, and a way to stop a statement from another thread.
//!
//! The vetter decides *what* a statement may touch; this decides *how much*
//! it may cost. SQLite checks a deadline (the progress handler) only
//! between virtual-machine steps, so a single step must stay short:
//!
//! - `SQLITE_LIMIT_LENGTH` caps every string and blob a statement builds
//!   (`printf('%.*c', …)`, `randomblob`, `zeroblob`, `group_concat`) at the
//!   module's value cap, so no step allocates more than that;
//! - `instr`, `replace` and the two-argument `trim`s compare every position
//!   of one argument with the whole of the other (hours on two values of a
//!   few megabytes); they are replaced by linear versions with the same
//!   results. `LIKE`/`GLOB` stay quadratic in pattern × value, so patterns
//!   are capped at [`LIKE_PATTERN_BYTES`]; `json_patch` is refused by the
//!   vetter;
//! - ATTACH is impossible (`SQLITE_LIMIT_ATTACHED` = 0), triggers nest at
//!   most [`TRIGGER_DEPTH`] deep, and SQLite starts no helper threads;
//! - defensive mode (`SQLITE_DBCONFIG_DEFENSIVE`) is on: the shadow tables
//!   of a module's fts5 full-text tables are read-only to SQL (a module
//!   cannot write a crafted index for fts5 to read), and neither
//!   `writable_schema` nor a deliberately corrupted file is possible.
//!
//! - the lookaside allocator is small, and an idle connection can give its
//!   page cache back ([`release_memory`]), so that ten thousand open
//!   connections cost little memory.
//!
//! This is the one file with `unsafe` FFI to SQLite; each block says why it
//! holds.

use std::ffi::{c_int, c_void};

use libsqlite3_sys as ffi;
use rusqlite::Connection;

/// Frees the page cache of an idle connection (pages in use by a statement
/// stay): its next statement reads what it needs from the operating
/// system's cache, a few microseconds.
pub fn release_memory(conn: &Connection) {
    // SAFETY: `conn` is borrowed, so its handle is live and used by no
    // other thread meanwhile (`Connection` is not `Sync`);
    // `sqlite3_db_release_memory` only frees unused cache pages.
    #[allow(unsafe_code)]
    unsafe {
        ffi::sqlite3_db_release_memory(conn.handle());
    }
}

/// What `sqlite3_db_status` says of a connection now (`SQLITE_DBSTATUS_*`).
#[cfg(test)]
pub fn status(conn: &Connection, what: c_int) -> i64 {
    let (mut now, mut high): (c_int, c_int) = (0, 0);
    // SAFETY: as in `release_memory`; the two pointers are to live locals.
    #[allow(unsafe_code)]
    unsafe {
        ffi::sqlite3_db_status(conn.handle(), what, &raw mut now, &raw mut high, 0);
    }
    i64::from(now)
}

/// Longest `LIKE` or `GLOB` pattern: the cost of one match is about
/// pattern × value bytes, one step the deadline cannot interrupt.
pub const LIKE_PATTERN_BYTES: i32 = 256;
/// Deepest trigger recursion.
pub const TRIGGER_DEPTH: i32 = 10;
/// Longest statement text (the vetter already refuses far shorter input).
const SQL_BYTES: i32 = 1_000_000;
/// Most terms in a compound SELECT (`UNION ALL` chains).
const COMPOUND_SELECT: i32 = 100;
/// Most parameters of a statement (the same bound as the capability's).
const VARIABLES: i32 = 1000;
/// SQLite's default page size: a size quota becomes a page count.
pub const PAGE_BYTES: u64 = 4096;
/// Lookaside slots of a connection, and their size: SQLite's default
/// (1200 × 128 bytes, written through at open) made each open namespace
/// cost 150 KiB before its first statement; 32 × 64 bytes is 2 KiB.
const LOOKASIDE: (c_int, c_int) = (32, 64);

/// Applies the bounds to a fresh connection (before its first statement)
/// and installs the linear built-ins. `value_bytes` is the largest string
/// or blob a statement may build.
pub fn harden(conn: &Connection, value_bytes: usize) -> rusqlite::Result<()> {
    let value_bytes = i32::try_from(value_bytes).unwrap_or(i32::MAX).max(1);
    let limits = [
        (ffi::SQLITE_LIMIT_ATTACHED, 0),
        (ffi::SQLITE_LIMIT_LENGTH, value_bytes),
        (ffi::SQLITE_LIMIT_SQL_LENGTH, SQL_BYTES),
        (ffi::SQLITE_LIMIT_LIKE_PATTERN_LENGTH, LIKE_PATTERN_BYTES),
        (ffi::SQLITE_LIMIT_TRIGGER_DEPTH, TRIGGER_DEPTH),
        (ffi::SQLITE_LIMIT_COMPOUND_SELECT, COMPOUND_SELECT),
        (ffi::SQLITE_LIMIT_VARIABLE_NUMBER, VARIABLES),
        (ffi::SQLITE_LIMIT_WORKER_THREADS, 0),
    ];
    let functions: [(&std::ffi::CStr, c_int, Func, usize); 5] = [
        (c"instr", 2, instr, 0),
        (c"replace", 3, replace, 0),
        (c"trim", 2, trim, TRIM_BOTH),
        (c"ltrim", 2, trim, TRIM_LEFT),
        (c"rtrim", 2, trim, TRIM_RIGHT),
    ];
    // SAFETY: `db` is this connection's live handle, used only by this
    // thread meanwhile (`Connection` is not `Sync`, and we hold a reference
    // to it). `sqlite3_db_config(LOOKASIDE)` with a null buffer makes SQLite
    // allocate its own; it is called before any statement, when no
    // lookaside memory is in use. `sqlite3_limit` sets an integer;
    // `sqlite3_create_function_v2` registers functions whose names are
    // static C strings and whose user data is a plain integer (no
    // destructor), which SQLite keeps for the connection's life.
    #[allow(unsafe_code)]
    unsafe {
        let db = conn.handle();
        ffi::sqlite3_db_config(
            db,
            ffi::SQLITE_DBCONFIG_LOOKASIDE,
            std::ptr::null_mut::<c_void>(),
            LOOKASIDE.0,
            LOOKASIDE.1,
        );
        for (limit, value) in limits {
            ffi::sqlite3_limit(db, limit, value);
        }
        // `sqlite3_db_config(DEFENSIVE, int, int*)`: the int turns it on,
        // a null pointer asks for no report back.
        let rc = ffi::sqlite3_db_config(db, ffi::SQLITE_DBCONFIG_DEFENSIVE, 1 as c_int, std::ptr::null_mut::<c_int>());
        if rc != ffi::SQLITE_OK {
            return Err(rusqlite::Error::SqliteFailure(
                ffi::Error::new(rc),
                Some("cannot turn on defensive mode on a module connection".to_owned()),
            ));
        }
        for (name, args, func, flags) in functions {
            let rc = ffi::sqlite3_create_function_v2(
                db,
                name.as_ptr(),
                args,
                ffi::SQLITE_UTF8 | ffi::SQLITE_DETERMINISTIC | ffi::SQLITE_INNOCUOUS,
                flags as *mut c_void,
                Some(func),
                None,
                None,
                None,
            );
            if rc != ffi::SQLITE_OK {
                return Err(rusqlite::Error::SqliteFailure(
                    ffi::Error::new(rc),
                    Some(format!("cannot install {name:?} on a module connection")),
                ));
            }
        }
    }
    Ok(())
}

/// Sets SQLite's process-wide heap limits: a soft one, above which SQLite
/// sheds its page caches, and a hard one, above which allocations fail
/// (`SQLITE_NOMEM` for the statement that asked) instead of the process
/// growing. Every connection of the process counts, the host's own too.
pub fn limit_heap(hard_bytes: u64) {
    let hard = i64::try_from(hard_bytes).unwrap_or(i64::MAX);
    // SAFETY: both calls only set process-wide integers, thread-safe by
    // SQLite's contract (it is built threadsafe by libsqlite3-sys).
    #[allow(unsafe_code)]
    unsafe {
        ffi::sqlite3_soft_heap_limit64(hard / 2);
        ffi::sqlite3_hard_heap_limit64(hard);
    }
}

// ---------------------------------------------------------------------------
// The linear built-ins. Each mirrors SQLite's own function (func.c of the
// bundled 3.51) case for case; only the search is different. They are
// checked against SQLite's originals in the tests below.
// ---------------------------------------------------------------------------

type Func = unsafe extern "C" fn(*mut ffi::sqlite3_context, c_int, *mut *mut ffi::sqlite3_value);

const TRIM_LEFT: usize = 1;
const TRIM_RIGHT: usize = 2;
const TRIM_BOTH: usize = 3;

/// The bytes of a value as text (`None` for NULL or out of memory).
///
/// # Safety
/// `v` must be a protected value of the running function call; the slice is
/// valid until the value is converted again or the call returns.
#[allow(unsafe_code)]
unsafe fn text<'a>(v: *mut ffi::sqlite3_value) -> Option<&'a [u8]> {
    // SAFETY: by the contract above; `sqlite3_value_text` comes first, then
    // `sqlite3_value_bytes` (SQLite's documented order for text).
    unsafe {
        let p = ffi::sqlite3_value_text(v);
        if p.is_null() {
            return None;
        }
        let n = usize::try_from(ffi::sqlite3_value_bytes(v)).unwrap_or(0);
        Some(std::slice::from_raw_parts(p, n))
    }
}

/// The bytes of a blob value.
///
/// # Safety
/// As for [`text`].
#[allow(unsafe_code)]
unsafe fn blob<'a>(v: *mut ffi::sqlite3_value) -> &'a [u8] {
    // SAFETY: by the contract above; an empty blob may be a null pointer.
    unsafe {
        let p = ffi::sqlite3_value_blob(v).cast::<u8>();
        let n = usize::try_from(ffi::sqlite3_value_bytes(v)).unwrap_or(0);
        if p.is_null() || n == 0 { &[] } else { std::slice::from_raw_parts(p, n) }
    }
}

/// Sets the call's result to `bytes` as text (copied), or "too big" past
/// the connection's length limit.
///
/// # Safety
/// `ctx` must be the running function call's context.
#[allow(unsafe_code)]
unsafe fn result_text(ctx: *mut ffi::sqlite3_context, bytes: &[u8]) {
    // SAFETY: `ctx` is live; SQLITE_TRANSIENT makes SQLite copy the bytes
    // before this returns.
    unsafe {
        let limit = ffi::sqlite3_limit(ffi::sqlite3_context_db_handle(ctx), ffi::SQLITE_LIMIT_LENGTH, -1);
        if bytes.len() > usize::try_from(limit).unwrap_or(0) {
            ffi::sqlite3_result_error_toobig(ctx);
            return;
        }
        ffi::sqlite3_result_text64(
            ctx,
            bytes.as_ptr().cast(),
            bytes.len() as u64,
            ffi::SQLITE_TRANSIENT(),
            ffi::SQLITE_UTF8 as u8,
        );
    }
}

/// The arguments of a call as a slice.
///
/// # Safety
/// `argv` must hold `argc` values, as SQLite passes them.
#[allow(unsafe_code)]
unsafe fn args<'a>(argc: c_int, argv: *mut *mut ffi::sqlite3_value) -> &'a [*mut ffi::sqlite3_value] {
    // SAFETY: by the contract above.
    unsafe { std::slice::from_raw_parts(argv, usize::try_from(argc).unwrap_or(0)) }
}

/// `instr(X, Y)`: the 1-based position of the first `Y` in `X`, in
/// characters for text and bytes for two blobs; 0 when absent, 1 for an
/// empty `Y`, NULL when either is NULL.
#[allow(unsafe_code)]
unsafe extern "C" fn instr(ctx: *mut ffi::sqlite3_context, argc: c_int, argv: *mut *mut ffi::sqlite3_value) {
    // SAFETY: SQLite calls this with the call's context and two arguments;
    // duplicates are freed before returning.
    unsafe {
        let [hay, needle] = args(argc, argv) else { return };
        let (ht, nt) = (ffi::sqlite3_value_type(*hay), ffi::sqlite3_value_type(*needle));
        if ht == ffi::SQLITE_NULL || nt == ffi::SQLITE_NULL {
            return;
        }
        if ffi::sqlite3_value_bytes(*needle) == 0 {
            ffi::sqlite3_result_int64(ctx, 1);
            return;
        }
        let position = if ht == ffi::SQLITE_BLOB && nt == ffi::SQLITE_BLOB {
            Some(find(blob(*hay), blob(*needle), false))
        } else if ht != ffi::SQLITE_BLOB && nt != ffi::SQLITE_BLOB {
            text(*hay).zip(text(*needle)).map(|(h, n)| find(h, n, true))
        } else {
            // One blob, one not: both read as text, on copies (as SQLite does).
            let (h, n) = (ffi::sqlite3_value_dup(*hay), ffi::sqlite3_value_dup(*needle));
            let found = text(h).zip(text(n)).map(|(h, n)| find(h, n, true));
            ffi::sqlite3_value_free(h);
            ffi::sqlite3_value_free(n);
            found
        };
        match position {
            Some(p) => ffi::sqlite3_result_int64(ctx, p),
            None => ffi::sqlite3_result_error_nomem(ctx),
        }
    }
}

/// True for the first byte of a character (SQLite's own rule).
fn starts_char(b: u8) -> bool {
    b & 0xc0 != 0x80
}

/// `instr`'s answer: the 1-based position of the first `needle` in `hay`
/// that starts a character (text) or anywhere (blobs); 0 when absent.
fn find(hay: &[u8], needle: &[u8], is_text: bool) -> i64 {
    let finder = memchr::memmem::Finder::new(needle);
    let mut from = 0;
    while let Some(at) = finder.find(&hay[from..]).map(|i| i + from) {
        if !is_text {
            return i64::try_from(at).unwrap_or(i64::MAX) + 1;
        }
        if starts_char(hay[at]) {
            let chars = hay[..at].iter().filter(|&&b| starts_char(b)).count();
            return i64::try_from(chars).unwrap_or(i64::MAX) + 1;
        }
        from = at + 1;
    }
    0
}

/// `replace(X, Y, Z)`: every `Y` in `X` (left to right, not overlapping)
/// replaced by `Z`; `X` unchanged when `Y` is empty; NULL when any is NULL.
#[allow(unsafe_code)]
unsafe extern "C" fn replace(ctx: *mut ffi::sqlite3_context, argc: c_int, argv: *mut *mut ffi::sqlite3_value) {
    // SAFETY: SQLite calls this with the call's context and three arguments.
    unsafe {
        let [s, pattern, rep] = args(argc, argv) else { return };
        let Some(s) = text(*s) else { return };
        let Some(pattern) = text(*pattern) else { return };
        if pattern.first().is_none_or(|&b| b == 0) {
            result_text(ctx, s);
            return;
        }
        let Some(rep) = text(*rep) else { return };
        result_text(ctx, &replaced(s, pattern, rep));
    }
}

fn replaced(s: &[u8], pattern: &[u8], rep: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut last = 0;
    for at in memchr::memmem::find_iter(s, pattern) {
        // `find_iter` reports overlapping matches too; skip those.
        if at < last {
            continue;
        }
        out.extend_from_slice(&s[last..at]);
        out.extend_from_slice(rep);
        last = at + pattern.len();
    }
    out.extend_from_slice(&s[last..]);
    out
}

/// `trim(X, Y)`, `ltrim(X, Y)`, `rtrim(X, Y)`: the characters of `Y`
/// removed from the start and/or end of `X`.
#[allow(unsafe_code)]
unsafe extern "C" fn trim(ctx: *mut ffi::sqlite3_context, argc: c_int, argv: *mut *mut ffi::sqlite3_value) {
    // SAFETY: SQLite calls this with the call's context and two arguments;
    // the user data is the integer given at registration.
    unsafe {
        let [x, set] = args(argc, argv) else { return };
        if ffi::sqlite3_value_type(*x) == ffi::SQLITE_NULL {
            return;
        }
        let Some(input) = text(*x) else { return };
        let Some(set) = text(*set) else { return };
        let flags = ffi::sqlite3_user_data(ctx) as usize;
        result_text(ctx, trimmed(input, set, flags));
    }
}

/// The characters of a trim set, SQLite's way: up to the first NUL, each a
/// lead byte and its continuation bytes. Each distinct character keeps its
/// first position (SQLite tries them in order and takes the first match).
struct CharSet<'a> {
    first: std::collections::HashMap<&'a [u8], usize>,
    /// The distinct lengths of its characters, shortest first.
    lengths: Vec<usize>,
}

impl<'a> CharSet<'a> {
    fn new(set: &'a [u8]) -> Self {
        let set = &set[..set.iter().position(|&b| b == 0).unwrap_or(set.len())];
        let mut first = std::collections::HashMap::new();
        let mut lengths = Vec::new();
        let mut i = 0;
        let mut index = 0;
        while i < set.len() {
            let mut end = i + 1;
            if set[i] >= 0xc0 {
                while end < set.len() && !starts_char(set[end]) {
                    end += 1;
                }
            }
            first.entry(&set[i..end]).or_insert(index);
            if !lengths.contains(&(end - i)) {
                lengths.push(end - i);
            }
            index += 1;
            i = end;
        }
        lengths.sort_unstable();
        Self { first, lengths }
    }

    /// The length of the set's first character (in set order) that `pick`
    /// finds, given each candidate length.
    fn matching(&self, pick: impl Fn(usize) -> Option<&'a [u8]>) -> Option<usize> {
        self.lengths
            .iter()
            .filter_map(|&len| pick(len).and_then(|bytes| self.first.get(bytes)).map(|&index| (index, len)))
            .min()
            .map(|(_, len)| len)
    }
}

fn trimmed<'a>(input: &'a [u8], set: &[u8], flags: usize) -> &'a [u8] {
    let chars = CharSet::new(set);
    if chars.lengths.is_empty() {
        return input;
    }
    let mut rest = input;
    if flags & TRIM_LEFT != 0 {
        while let Some(len) = chars.matching(|len| rest.get(..len)) {
            rest = &rest[len..];
        }
    }
    if flags & TRIM_RIGHT != 0 {
        while let Some(len) = chars.matching(|len| rest.len().checked_sub(len).map(|start| &rest[start..])) {
            rest = &rest[..rest.len() - len];
        }
    }
    rest
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn plain() -> Connection {
        Connection::open_in_memory().unwrap()
    }

    fn hardened(value_bytes: usize) -> Connection {
        let conn = plain();
        harden(&conn, value_bytes).unwrap();
        conn
    }

    /// Each expression's result (as text, or its error) on a connection.
    fn answers(conn: &Connection, exprs: &[&str]) -> Vec<String> {
        exprs
            .iter()
            .map(|e| {
                let sql = format!("SELECT typeof(v) || ':' || hex(v) FROM (SELECT {e} AS v)");
                match conn.query_row(&sql, [], |row| row.get::<_, String>(0)) {
                    Ok(v) => v,
                    Err(err) => format!("error: {err}"),
                }
            })
            .collect()
    }

    #[test]
    fn the_linear_built_ins_answer_as_sqlites_own() {
        let exprs = [
            "instr('hello world', 'o')",
            "instr('hello world', 'world')",
            "instr('hello', 'z')",
            "instr('hello', '')",
            "instr('', '')",
            "instr('', 'a')",
            "instr(NULL, 'a')",
            "instr('a', NULL)",
            "instr('añoaño', 'o')",
            "instr('ñandú ñandú', 'dú ñ')",
            "instr(x'00ff00ff', x'ff00')",
            "instr(x'6162', 'b')",
            "instr('abc', x'63')",
            "instr(12345, 34)",
            "instr(x'c3', x'c3')",
            "instr('aaa', 'aa')",
            "replace('hello world', 'o', '0')",
            "replace('aaaa', 'aa', 'b')",
            "replace('aaa', 'aa', 'b')",
            "replace('abc', '', 'x')",
            "replace('abc', 'b', '')",
            "replace(NULL, 'a', 'b')",
            "replace('abc', NULL, 'b')",
            "replace('abc', 'b', NULL)",
            "replace('ñandú', 'ú', 'u')",
            "replace(123123, 2, 'x')",
            "replace(x'616263', 'b', 'B')",
            "replace('abc', 'abcd', 'x')",
            "trim('xxhixx', 'x')",
            "ltrim('xxhixx', 'x')",
            "rtrim('xxhixx', 'x')",
            "trim('  hi  ', '')",
            "trim('abchicba', 'cab')",
            "trim('ñañhiñ', 'ñ')",
            "trim(NULL, 'x')",
            "trim('x', NULL)",
            "trim('xyx', 'yx')",
            "trim(123321, 13)",
            "trim('aaa', 'a')",
            "ltrim(x'c3a9c3a9', x'c3')",
        ];
        let want = answers(&plain(), &exprs);
        let got = answers(&hardened(1 << 20), &exprs);
        for ((e, w), g) in exprs.iter().zip(&want).zip(&got) {
            assert_eq!(g, w, "{e}");
        }
    }

    #[test]
    fn quadratic_inputs_answer_at_once() {
        // SQLite's own instr/replace/trim take minutes on these; ours are linear.
        let conn = hardened(4 << 20);
        let started = std::time::Instant::now();
        let statements = [
            "SELECT instr(printf('%.*c', 2000000, 'a'), printf('%.*c', 1000000, 'a') || 'b')",
            "SELECT length(replace(printf('%.*c', 2000000, 'a'), printf('%.*c', 1000000, 'a') || 'b', 'x'))",
            "SELECT length(trim(printf('%.*c', 2000000, 'a'), printf('%.*c', 1000000, 'b') || 'a'))",
        ];
        let expected = [0, 2_000_000, 0];
        for (sql, want) in statements.iter().zip(expected) {
            let n: i64 = conn.query_row(sql, [], |r| r.get(0)).unwrap();
            assert_eq!(n, want, "{sql}");
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(20), "took {:?}", started.elapsed());
    }

    #[test]
    fn values_and_patterns_are_capped() {
        let conn = hardened(1 << 20);
        for sql in [
            "SELECT printf('%.*c', 900000000, 'x')",
            "SELECT randomblob(900000000)",
            "SELECT zeroblob(900000000)",
            "SELECT hex(randomblob(600000))",
            "SELECT replace(printf('%.*c', 600000, 'a'), 'a', 'aa')",
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 100000) \
             SELECT group_concat('xxxxxxxxxxxxxxxxxxxx', '') FROM c",
        ] {
            // Refused, or (printf, whose overflow SQLite reports as NULL) nothing built.
            match conn.query_row(sql, [], |r| r.get::<_, Option<Vec<u8>>>(0)) {
                Err(err) => assert!(err.to_string().contains("too big"), "{sql}: {err}"),
                Ok(value) => assert!(value.is_none() && sql.contains("printf('%.*c'"), "{sql} built a value"),
            }
        }
        let long = format!("%{}%", "a".repeat(LIKE_PATTERN_BYTES as usize));
        let err = conn.query_row("SELECT 'a' LIKE ?1", [long], |r| r.get::<_, i64>(0)).unwrap_err();
        assert!(err.to_string().contains("too complex"), "{err}");
        let ok: i64 = conn.query_row("SELECT length(printf('%.*c', 1000, 'x'))", [], |r| r.get(0)).unwrap();
        assert_eq!(ok, 1000);
    }

    #[test]
    fn full_text_tables_work_and_their_shadow_tables_are_read_only() {
        let conn = hardened(1 << 20);
        conn.execute_batch(
            "CREATE VIRTUAL TABLE docs_fts USING fts5(title, content); \
             INSERT INTO docs_fts (rowid, title, content) VALUES (1, 'Budget', 'the budget for 2026'); \
             INSERT INTO docs_fts (rowid, title, content) VALUES (2, 'Minutes', 'we spoke of the budget once'); \
             INSERT INTO docs_fts (rowid, title, content) VALUES (3, 'Other', 'nothing here');",
        )
        .unwrap();
        let mut stmt = conn
            .prepare(
                "SELECT rowid, highlight(docs_fts, 1, '[', ']') FROM docs_fts WHERE docs_fts MATCH ?1 \
                 ORDER BY bm25(docs_fts, 10.0, 1.0)",
            )
            .unwrap();
        let hits: Vec<(i64, String)> =
            stmt.query_map(["budget"], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().map(Result::unwrap).collect();
        assert_eq!(
            hits,
            [(1, "the [budget] for 2026".to_owned()), (2, "we spoke of the [budget] once".to_owned())],
            "the title match ranks first"
        );
        // The shadow tables can be read (they are the module's own), never written, dropped or altered.
        let rows: i64 = conn.query_row("SELECT count(*) FROM docs_fts_data", [], |r| r.get(0)).unwrap();
        assert!(rows > 0);
        for sql in [
            "INSERT INTO docs_fts_data (id, block) VALUES (999, x'00')",
            "UPDATE docs_fts_data SET block = x'00'",
            "DELETE FROM docs_fts_idx",
            "UPDATE docs_fts_content SET c0 = 'x'",
            "INSERT INTO docs_fts_config (k, v) VALUES ('version', 99)",
            "DROP TABLE docs_fts_data",
            "ALTER TABLE docs_fts_docsize RENAME TO elsewhere",
        ] {
            let err = conn.execute_batch(sql).unwrap_err().to_string();
            assert!(err.contains("read-only") || err.contains("may not be") || err.contains("cannot"), "{sql}: {err}");
        }
        conn.execute_batch("PRAGMA writable_schema = ON").unwrap();
        let err = conn.execute_batch("DELETE FROM sqlite_schema").unwrap_err().to_string();
        assert!(err.contains("may not be modified") || err.contains("read-only"), "{err}");
        // Through the virtual table itself, writes work and keep the index consistent.
        conn.execute_batch(
            "DELETE FROM docs_fts WHERE rowid = 1; INSERT INTO docs_fts(docs_fts) VALUES ('integrity-check')",
        )
        .unwrap();
        let left: i64 =
            conn.query_row("SELECT count(*) FROM docs_fts WHERE docs_fts MATCH 'budget'", [], |r| r.get(0)).unwrap();
        assert_eq!(left, 1);
    }

    #[test]
    fn an_interrupt_stops_the_running_statement_only() {
        let conn = hardened(1 << 20);
        let interrupt = conn.get_interrupt_handle();
        const ENDLESS: &str = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c";
        let stopper = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(200));
            interrupt.interrupt();
        });
        let started = std::time::Instant::now();
        let err = conn.query_row(ENDLESS, [], |r| r.get::<_, i64>(0)).unwrap_err();
        assert!(err.to_string().contains("interrupt"), "{err}");
        assert!(started.elapsed() < std::time::Duration::from_secs(10));
        stopper.join().unwrap();
        let one: i64 = conn.query_row("SELECT 1", [], |r| r.get(0)).unwrap();
        assert_eq!(one, 1, "the next statement runs");
    }
}
