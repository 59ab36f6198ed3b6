/// Where objects live: a bucket and a key prefix, written `s3://BUCKET/PREFIX`.
///
/// The prefix never starts or ends with `/`; `key(_:)` joins it to a relative name. Bucket names
/// follow S3's rules for new buckets (3–63 characters of lower-case letters, digits, `.` and `-`,
/// starting and ending with a letter or digit), so a typo is caught at load time rather than as a
/// 400 from the server halfway through a run.
public struct ObjectLocation: Sendable, Equatable, CustomStringConvertible {
    public var bucket: String
    public var prefix: String

    public init(bucket: String, prefix: String) {
        self.bucket = bucket
        self.prefix = prefix
    }

    /// Parses `s3://bucket`, `s3://bucket/`, `s3://bucket/a/b` or `s3://bucket/a/b/`.
    ///
    /// - Parameter origin: where the text came from (`checkpoint.remote`), for the message.
    /// - Throws: `ObjectStoreError.badLocation` naming the text, its origin and the problem.
    public static func parse(_ text: String, origin: String) throws(ObjectStoreError) -> ObjectLocation {
        if let problem = problem(with: text) {
            throw ObjectStoreError(.badLocation, "\(origin): \"\(text)\" is not an object store location: \(problem)")
        }
        let rest = text.dropFirst(5)
        let bucket = rest.prefix { $0 != "/" }
        var prefix = rest.dropFirst(bucket.count)
        while prefix.hasPrefix("/") { prefix = prefix.dropFirst() }
        while prefix.hasSuffix("/") { prefix = prefix.dropLast() }
        return ObjectLocation(bucket: String(bucket), prefix: String(prefix))
    }

    /// Why `text` is not a valid location, or nil when it is one.
    public static func problem(with text: String) -> String? {
        guard text.hasPrefix("s3://") else { return "expected s3://BUCKET/PREFIX" }
        let rest = text.dropFirst(5)
        let bucket = rest.prefix { $0 != "/" }
        guard (3...63).contains(bucket.count) else {
            return "the bucket name \"\(bucket)\" must have 3 to 63 characters"
        }
        let allowed = bucket.unicodeScalars.allSatisfy {
            ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "." || $0 == "-"
        }
        guard allowed, let first = bucket.first, let last = bucket.last,
              first.isLetter || first.isNumber, last.isLetter || last.isNumber, !bucket.contains("..") else {
            return "the bucket name \"\(bucket)\" may only hold lower-case letters, digits, '.' and '-', starting and ending with a letter or digit"
        }
        let prefix = rest.dropFirst(bucket.count)
        if prefix.contains("//") { return "the prefix \"\(prefix)\" has an empty path segment" }
        if prefix.split(separator: "/").contains(where: { $0 == "." || $0 == ".." }) {
            return "the prefix \"\(prefix)\" has a '.' or '..' segment"
        }
        if prefix.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) {
            return "the prefix has a control character"
        }
        if prefix.utf8.count > 512 { return "the prefix is longer than 512 bytes" }
        return nil
    }

    /// The full key of `name` under the prefix.
    public func key(_ name: String) -> String {
        prefix.isEmpty ? name : prefix + "/" + name
    }

    public var description: String { prefix.isEmpty ? "s3://\(bucket)" : "s3://\(bucket)/\(prefix)" }
}
