import Core

/// HMAC-SHA256 (RFC 2104) over Core's SHA-256: the only primitive Signature V4 needs.
enum HMAC {
    static func sha256(key: [UInt8], message: [UInt8]) -> [UInt8] {
        let blockSize = 64
        var block = key.count > blockSize ? SHA256.hash(key) : key
        block += [UInt8](repeating: 0, count: blockSize - block.count)
        var inner = SHA256()
        inner.update(block.map { $0 ^ 0x36 })
        inner.update(message)
        var outer = SHA256()
        outer.update(block.map { $0 ^ 0x5c })
        outer.update(inner.finalize())
        return outer.finalize()
    }

    static func sha256(key: [UInt8], _ message: String) -> [UInt8] {
        sha256(key: key, message: Array(message.utf8))
    }
}
