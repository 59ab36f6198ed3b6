/// A small JSON reader for safetensors headers.
///
/// Foundation's JSON readers keep the last of two equal keys silently and do not keep key order;
/// a safetensors header needs both: a repeated tensor name is an error, and the order of entries
/// is part of what a checkpoint preserves. Numbers are kept as their text so that offsets and
/// dimensions are converted exactly (no detour through `Double`). Nesting depth is capped so a
/// hostile header cannot exhaust the stack.
indirect enum HeaderJSON {
    case object([(key: String, value: HeaderJSON)])
    case array([HeaderJSON])
    case string(String)
    case number(String)
    case bool(Bool)
    case null

    /// Why a header failed to parse, with the byte offset inside the header.
    struct ParseError: Error, Equatable {
        var offset: Int
        var reason: String
        /// Set when the failure is a repeated key; the store reports it as a duplicate name.
        var duplicateKey: String?
    }

    static let maximumDepth = 32

    /// Parses one JSON value that spans all of `bytes` (surrounding whitespace allowed).
    static func parse(_ bytes: UnsafeRawBufferPointer) throws(ParseError) -> HeaderJSON {
        var reader = Reader(bytes: bytes)
        reader.skipWhitespace()
        let value = try reader.value(depth: 0)
        reader.skipWhitespace()
        if reader.position != bytes.count {
            throw ParseError(offset: reader.position, reason: "unexpected text after the JSON value")
        }
        return value
    }

    /// A non-negative integer, if this is a number written without fraction, exponent or sign.
    var nonNegativeInteger: Int? {
        guard case .number(let text) = self, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        return Int(text)
    }
}

private struct Reader {
    let bytes: UnsafeRawBufferPointer
    var position = 0

    typealias ParseError = HeaderJSON.ParseError

    init(bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    var current: UInt8? { position < bytes.count ? bytes[position] : nil }

    func fail(_ reason: String) -> ParseError { ParseError(offset: position, reason: reason) }

    mutating func skipWhitespace() {
        while let byte = current, byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 { position += 1 }
    }

    mutating func expect(_ byte: UInt8, _ what: String) throws(ParseError) {
        guard current == byte else { throw fail("expected \(what)") }
        position += 1
    }

    mutating func value(depth: Int) throws(ParseError) -> HeaderJSON {
        guard depth < HeaderJSON.maximumDepth else { throw fail("nesting deeper than \(HeaderJSON.maximumDepth)") }
        switch current {
        case UInt8(ascii: "{"): return try object(depth: depth)
        case UInt8(ascii: "["): return try array(depth: depth)
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        case let byte? where byte == UInt8(ascii: "-") || (byte >= 0x30 && byte <= 0x39): return .number(try number())
        case nil: throw fail("unexpected end of header")
        default: throw fail("unexpected character")
        }
    }

    mutating func literal(_ word: String) throws(ParseError) {
        for byte in word.utf8 { try expect(byte, "'\(word)'") }
    }

    mutating func object(depth: Int) throws(ParseError) -> HeaderJSON {
        position += 1
        var members: [(key: String, value: HeaderJSON)] = []
        var seen = Set<String>()
        skipWhitespace()
        if current == UInt8(ascii: "}") { position += 1; return .object(members) }
        while true {
            skipWhitespace()
            let keyOffset = position
            guard current == UInt8(ascii: "\"") else { throw fail("expected a string key") }
            let key = try string()
            if !seen.insert(key).inserted {
                throw ParseError(offset: keyOffset, reason: "key \"\(key)\" appears twice", duplicateKey: key)
            }
            skipWhitespace()
            try expect(UInt8(ascii: ":"), "':'")
            skipWhitespace()
            members.append((key, try value(depth: depth + 1)))
            skipWhitespace()
            if current == UInt8(ascii: ",") { position += 1; continue }
            try expect(UInt8(ascii: "}"), "',' or '}'")
            return .object(members)
        }
    }

    mutating func array(depth: Int) throws(ParseError) -> HeaderJSON {
        position += 1
        var elements: [HeaderJSON] = []
        skipWhitespace()
        if current == UInt8(ascii: "]") { position += 1; return .array(elements) }
        while true {
            skipWhitespace()
            elements.append(try value(depth: depth + 1))
            skipWhitespace()
            if current == UInt8(ascii: ",") { position += 1; continue }
            try expect(UInt8(ascii: "]"), "',' or ']'")
            return .array(elements)
        }
    }

    mutating func number() throws(ParseError) -> String {
        let start = position
        if current == UInt8(ascii: "-") { position += 1 }
        guard let first = current, isDigit(first) else { throw fail("expected a digit") }
        position += 1
        if first != UInt8(ascii: "0") { skipDigits() }
        if current == UInt8(ascii: ".") {
            position += 1
            guard let byte = current, isDigit(byte) else { throw fail("expected a digit after '.'") }
            skipDigits()
        }
        if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
            position += 1
            if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { position += 1 }
            guard let byte = current, isDigit(byte) else { throw fail("expected a digit in the exponent") }
            skipDigits()
        }
        return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<position]), as: UTF8.self)
    }

    func isDigit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }

    mutating func skipDigits() {
        while let byte = current, isDigit(byte) { position += 1 }
    }

    mutating func string() throws(ParseError) -> String {
        let start = position
        position += 1
        var utf8: [UInt8] = []
        while true {
            guard let byte = current else { throw ParseError(offset: start, reason: "unterminated string") }
            position += 1
            switch byte {
            case UInt8(ascii: "\""):
                guard let text = String(validating: utf8, as: UTF8.self) else {
                    throw ParseError(offset: start, reason: "string is not valid UTF-8")
                }
                return text
            case UInt8(ascii: "\\"):
                try escape(into: &utf8)
            case 0..<0x20:
                throw fail("control character in a string")
            default:
                utf8.append(byte)
            }
        }
    }

    mutating func escape(into utf8: inout [UInt8]) throws(ParseError) {
        guard let byte = current else { throw fail("unterminated escape") }
        position += 1
        switch byte {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): utf8.append(byte)
        case UInt8(ascii: "b"): utf8.append(0x08)
        case UInt8(ascii: "f"): utf8.append(0x0C)
        case UInt8(ascii: "n"): utf8.append(0x0A)
        case UInt8(ascii: "r"): utf8.append(0x0D)
        case UInt8(ascii: "t"): utf8.append(0x09)
        case UInt8(ascii: "u"):
            var scalar = try hex4()
            if (0xD800..<0xDC00).contains(scalar) {
                try literal("\\u")
                let low = try hex4()
                guard (0xDC00..<0xE000).contains(low) else { throw fail("unpaired surrogate") }
                scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
            }
            guard let unicode = Unicode.Scalar(scalar) else { throw fail("invalid \\u escape") }
            utf8.append(contentsOf: Array(String(Character(unicode)).utf8))
        default:
            throw fail("invalid escape")
        }
    }

    mutating func hex4() throws(ParseError) -> UInt32 {
        var value: UInt32 = 0
        for _ in 0..<4 {
            guard let byte = current, let digit = hexValue(byte) else { throw fail("expected four hex digits") }
            value = value << 4 | digit
            position += 1
        }
        return value
    }

    func hexValue(_ byte: UInt8) -> UInt32? {
        switch byte {
        case 0x30...0x39: return UInt32(byte - 0x30)
        case 0x41...0x46: return UInt32(byte - 0x41 + 10)
        case 0x61...0x66: return UInt32(byte - 0x61 + 10)
        default: return nil
        }
    }
}
