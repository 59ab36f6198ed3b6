import Core
import CSQLite

extension SQLite {
    /// A prepared statement: bind, step, read columns, reset to run again.
    public final class Statement {
        let handle: OpaquePointer
        let connection: SQLite
        public let sql: String

        init(_ handle: OpaquePointer, connection: SQLite, sql: String) {
            self.handle = handle
            self.connection = connection
            self.sql = sql
        }

        deinit { sqlite3_finalize(handle) }

        /// True when the statement cannot change the database (checked by SQLite, not by parsing).
        public var isReadOnly: Bool { sqlite3_stmt_readonly(handle) != 0 }

        public var columnCount: Int { Int(sqlite3_column_count(handle)) }

        public func columnName(_ index: Int) -> String { String(cString: sqlite3_column_name(handle, Int32(index))) }

        /// Resets the statement and binds `values` to parameters 1...n.
        public func bind(_ values: [Value]) throws(DatasetError) {
            try check(sqlite3_reset(handle), "sqlite3_reset")
            try check(sqlite3_clear_bindings(handle), "sqlite3_clear_bindings")
            let expected = Int(sqlite3_bind_parameter_count(handle))
            guard values.count == expected else {
                throw DatasetError(code: "sqlite.bind", "`\(sql)` takes \(expected) parameters, \(values.count) given")
            }
            for (offset, value) in values.enumerated() {
                let index = Int32(offset + 1)
                switch value {
                case .null: try check(sqlite3_bind_null(handle, index), "sqlite3_bind_null")
                case .integer(let v): try check(sqlite3_bind_int64(handle, index, v), "sqlite3_bind_int64")
                case .real(let v): try check(sqlite3_bind_double(handle, index, v), "sqlite3_bind_double")
                case .text(let v): try check(sqlite3_bind_text(handle, index, v, -1, grove_sqlite_transient()), "sqlite3_bind_text")
                case .blob(let v):
                    let rc = v.withUnsafeBytes { sqlite3_bind_blob(handle, index, $0.baseAddress, Int32($0.count), grove_sqlite_transient()) }
                    try check(rc, "sqlite3_bind_blob")
                }
            }
        }

        /// Advances to the next row: true when a row is ready, false when the statement is done.
        public func step() throws(DatasetError) -> Bool {
            try check(sqlite3_step(handle), "sqlite3_step", ok: [SQLITE_ROW, SQLITE_DONE]) == SQLITE_ROW
        }

        /// The current row's columns with their storage classes.
        public func row() -> [Value] { (0..<columnCount).map(value) }

        public func value(_ column: Int) -> Value {
            let index = Int32(column)
            switch sqlite3_column_type(handle, index) {
            case SQLITE_INTEGER: return .integer(sqlite3_column_int64(handle, index))
            case SQLITE_FLOAT: return .real(sqlite3_column_double(handle, index))
            case SQLITE_TEXT: return .text(String(cString: sqlite3_column_text(handle, index)))
            case SQLITE_BLOB:
                let count = Int(sqlite3_column_bytes(handle, index))
                guard count > 0, let base = sqlite3_column_blob(handle, index) else { return .blob([]) }
                return .blob(Array(UnsafeRawBufferPointer(start: base, count: count)))
            default: return .null
            }
        }

        @discardableResult
        private func check(_ rc: Int32, _ function: String, ok: Set<Int32> = [SQLITE_OK]) throws(DatasetError) -> Int32 {
            try connection.check(rc, function, sql: sql, ok: ok)
        }
    }
}

extension SQLite.Value {
    public var int: Int? { if case .integer(let v) = self { return Int(v) } else { return nil } }
    public var double: Double? {
        switch self {
        case .real(let v): return v
        case .integer(let v): return Double(v)
        default: return nil
        }
    }
    public var string: String? { if case .text(let v) = self { return v } else { return nil } }

    /// A stable text form for hashing catalog state: the storage class, then the value.
    var canonical: String {
        switch self {
        case .null: return "n"
        case .integer(let v): return "i\(v)"
        case .real(let v): return "r\(v.bitPattern)"
        case .text(let v): return "t\(v.utf8.count):\(v)"
        case .blob(let v): return "b\(v.hexString)"
        }
    }
}
