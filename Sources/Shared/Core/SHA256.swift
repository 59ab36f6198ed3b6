import Crypto

/// SHA-256 (FIPS 180-4), used for content hashes of samples, manifests, checkpoints, weights and
/// streamed states. A streaming hasher: `update` any number of times, then `finalize` once.
///
/// Backed by swift-crypto (BoringSSL's assembly, which uses the CPU's SHA extensions where it has
/// them): `hash-bench` measures it against the portable Swift implementation Grove had before
/// (docs/benchmarks.md, "Hashing").
/// `@unchecked Sendable`: swift-crypto's hasher does not declare it on Linux, but it is a value with
/// copy-on-write state (a copy that is updated first clones the context), so sharing copies across
/// threads is as safe as for any other value.
public struct SHA256: @unchecked Sendable {
    private var hasher = Crypto.SHA256()

    public init() {}

    public mutating func update<Bytes: Sequence>(_ bytes: Bytes) where Bytes.Element == UInt8 {
        if let done = bytes.withContiguousStorageIfAvailable({ update(UnsafeRawBufferPointer($0)) }) {
            return done
        }
        update(Array(bytes))
    }

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count > 0 else { return }
        hasher.update(bufferPointer: bytes)
    }

    /// Hashes a buffer of floats as their little-endian bytes (x86-64 and arm64 are little-endian).
    public mutating func update(floats: UnsafeBufferPointer<Float>) {
        update(UnsafeRawBufferPointer(floats))
    }

    public mutating func finalize() -> [UInt8] {
        Array(hasher.finalize())
    }

    public static func hash<Bytes: Sequence>(_ bytes: Bytes) -> [UInt8] where Bytes.Element == UInt8 {
        var hasher = SHA256()
        hasher.update(bytes)
        return hasher.finalize()
    }

    public static func hex<Bytes: Sequence>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        hash(bytes).hexString
    }
}

extension Sequence where Element == UInt8 {
    /// Lower-case hexadecimal, two digits a byte.
    public var hexString: String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        for byte in self { out.append(digits[Int(byte >> 4)]); out.append(digits[Int(byte & 15)]) }
        return String(decoding: out, as: UTF8.self)
    }
}
