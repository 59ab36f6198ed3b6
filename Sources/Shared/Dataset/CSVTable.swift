import Foundation

/// A small reader for the comma-separated tables that come with tile directories. It handles
/// quoted fields with doubled quotes; every row must have as many fields as the header.
public struct CSVTable: Sendable {
    public var header: [String]
    public var rows: [[String]]
    /// Where the table came from, for error messages.
    public var origin: String

    public static func read(_ path: String) throws(DatasetError) -> CSVTable {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw DatasetError(code: "csv.unreadable", "cannot read \(path): \(error.localizedDescription)")
        }
        return try parse(text, origin: path)
    }

    public static func parse(_ text: String, origin: String) throws(DatasetError) -> CSVTable {
        var records: [[String]] = []
        var field = "", record: [String] = [], quoted = false, afterQuote = false
        var iterator = text.makeIterator()
        while let ch = iterator.next() {
            if quoted {
                if ch == "\"" { quoted = false; afterQuote = true } else { field.append(ch) }
                continue
            }
            switch ch {
            case "\"":
                if afterQuote { field.append("\"") }
                quoted = true
                afterQuote = false
            case ",":
                record.append(field); field = ""; afterQuote = false
            case "\n", "\r\n":
                record.append(field); field = ""; afterQuote = false
                if !(record.count == 1 && record[0].isEmpty) { records.append(record) }
                record = []
            case "\r":
                continue
            default:
                field.append(ch); afterQuote = false
            }
        }
        if quoted { throw DatasetError(code: "csv.malformed", "\(origin): a quoted field is not closed") }
        if !field.isEmpty || !record.isEmpty { record.append(field); records.append(record) }
        guard let header = records.first else {
            throw DatasetError(code: "csv.empty", "\(origin) has no header row")
        }
        for (index, row) in records.enumerated().dropFirst() where row.count != header.count {
            throw DatasetError(code: "csv.malformed",
                               "\(origin) line \(index + 1) has \(row.count) fields, the header has \(header.count)")
        }
        return CSVTable(header: header, rows: Array(records.dropFirst()), origin: origin)
    }

    /// The index of a column, or an error naming the table and the column.
    public func column(_ name: String) throws(DatasetError) -> Int {
        guard let index = header.firstIndex(of: name) else {
            throw DatasetError(code: "csv.missing-column", "\(origin) has no column '\(name)'")
        }
        return index
    }
}
