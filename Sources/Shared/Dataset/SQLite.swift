import CSQLite

/// A thin owner of one SQLite connection: every sqlite3 call goes through `check`, which turns a
/// failure into a `DatasetError` naming the call, SQLite's message and the statement.
///
/// Not `Sendable`: a connection is used from the thread that opened it. Readers on other threads
/// open their own (WAL lets them read while one writer writes).
public final class SQLite {
    /// One SQL value, bound or read with its SQLite storage class.
    public enum Value: Equatable, Sendable {
        case null
        case integer(Int64)
        case real(Double)
        case text(String)
        case blob([UInt8])
    }

    let handle: OpaquePointer
    /// The database file, for error messages.
    public let path: String

    /// Opens (creating if needed) the database at `path` in WAL mode with foreign keys on.
    public init(path: String, readOnly: Bool = false) throws(DatasetError) {
        var db: OpaquePointer?
        let flags = readOnly ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)
        let rc = sqlite3_open_v2(path, &db, flags, nil)
        guard rc == SQLITE_OK, let db else {
            let reason = db.map { String(cString: sqlite3_errmsg($0)) } ?? String(cString: sqlite3_errstr(rc))
            sqlite3_close_v2(db)
            throw DatasetError(code: "sqlite.open", "cannot open the catalog database \(path): \(reason)")
        }
        handle = db
        self.path = path
        // Another process writing (a second `dataset synth`) makes this one wait, not fail.
        try check(sqlite3_busy_timeout(db, 5_000), "sqlite3_busy_timeout")
        if !readOnly { try execute("PRAGMA journal_mode = WAL") }
        try execute("PRAGMA foreign_keys = ON")
    }

    deinit { sqlite3_close_v2(handle) }

    /// Turns a non-OK result code into an error naming `function` and, if given, the statement.
    @discardableResult
    func check(_ rc: Int32, _ function: String, sql: String? = nil, ok: Set<Int32> = [SQLITE_OK]) throws(DatasetError) -> Int32 {
        if ok.contains(rc) { return rc }
        let reason = String(cString: sqlite3_errmsg(handle))
        let statement = sql.map { " in `\($0)`" } ?? ""
        throw DatasetError(code: "sqlite.error", "\(function) failed on \(path)\(statement): \(reason) (code \(rc))")
    }

    /// Runs one or more statements that return no rows (schema changes, pragmas).
    public func execute(_ sql: String) throws(DatasetError) {
        try check(sqlite3_exec(handle, sql, nil, nil, nil), "sqlite3_exec", sql: sql)
    }

    /// Prepares one statement; trailing text after it is an error, so that a query string can
    /// never smuggle in a second statement.
    public func prepare(_ sql: String) throws(DatasetError) -> Statement {
        var statement: OpaquePointer?
        var tail: UnsafePointer<CChar>?
        let rc = sql.withCString { text in
            let rc = sqlite3_prepare_v2(handle, text, -1, &statement, &tail)
            if rc == SQLITE_OK, let tail, String(cString: tail).contains(where: { !$0.isWhitespace && $0 != ";" }) {
                return SQLITE_MISUSE
            }
            return rc
        }
        if rc == SQLITE_MISUSE {
            sqlite3_finalize(statement)
            throw DatasetError(code: "sqlite.multiple-statements", "`\(sql)` holds more than one statement")
        }
        try check(rc, "sqlite3_prepare_v2", sql: sql)
        guard let statement else {
            throw DatasetError(code: "sqlite.empty-statement", "`\(sql)` holds no statement")
        }
        return Statement(statement, connection: self, sql: sql)
    }

    /// Runs `body` in one transaction: committed if it returns, rolled back if it throws.
    public func transaction<T>(_ body: () throws(DatasetError) -> T) throws(DatasetError) -> T {
        try execute("BEGIN IMMEDIATE")
        do {
            let result = try body()
            try execute("COMMIT")
            return result
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
    }

    /// Runs a statement with `values` bound and returns every row.
    public func rows(_ sql: String, _ values: [Value] = []) throws(DatasetError) -> [[Value]] {
        let statement = try prepare(sql)
        try statement.bind(values)
        var result: [[Value]] = []
        while try statement.step() { result.append(statement.row()) }
        return result
    }

    /// Runs a statement that returns no rows, with `values` bound.
    public func run(_ sql: String, _ values: [Value] = []) throws(DatasetError) {
        let statement = try prepare(sql)
        try statement.bind(values)
        while try statement.step() {}
    }

    /// Rows changed by the last INSERT, UPDATE or DELETE.
    public var changes: Int { Int(sqlite3_changes(handle)) }
}
