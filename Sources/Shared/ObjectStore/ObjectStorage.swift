/// One object's key and size, as a listing returns them.
public struct ObjectInfo: Sendable, Equatable {
    public var key: String
    public var size: Int

    public init(key: String, size: Int) {
        self.key = key
        self.size = size
    }
}

/// A bucket of objects: what Grove needs of S3. `S3Client` talks to a server;
/// `MemoryObjectStorage` keeps objects in memory for tests. Both pass `ObjectStorageContract`.
///
/// Every error thrown is an `ObjectStoreError`. Keys are full keys within the bucket.
public protocol ObjectStorage: Sendable {
    /// `s3://bucket`, for messages.
    var name: String { get }
    /// Stores `bytes` under `key` in one request, replacing any object there.
    func put(_ key: String, _ bytes: [UInt8]) throws
    /// The object's bytes, or those of `range` (which must lie inside it); nil when there is no
    /// such object.
    func get(_ key: String, range: Range<Int>?) throws -> [UInt8]?
    /// Every object whose key starts with `prefix`, sorted by key.
    func list(prefix: String) throws -> [ObjectInfo]
    /// Removes the object; no error when there is none.
    func delete(_ key: String) throws

    /// Starts a multipart upload; returns its id. Parts other than the last must be at least
    /// `MultipartUpload.minimumPartSize` bytes (S3's rule).
    func startMultipart(_ key: String) throws -> String
    /// Uploads part `number` (1-based); returns its ETag.
    func putPart(_ key: String, uploadID: String, number: Int, _ bytes: [UInt8]) throws -> String
    /// Makes the object from the parts, in order. Until this returns, the key does not show them.
    func completeMultipart(_ key: String, uploadID: String, parts: [(number: Int, etag: String)]) throws
    /// Abandons the upload and frees its parts.
    func abortMultipart(_ key: String, uploadID: String) throws
}

public enum MultipartUpload {
    /// S3 refuses parts smaller than 5 MiB, except the last.
    public static let minimumPartSize = 5 << 20
    /// S3 allows at most 10 000 parts.
    public static let maximumParts = 10_000
}
