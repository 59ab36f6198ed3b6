import Core

/// The on-disk form of one sample (`<id>.gts.gz`): a single gzip member whose content is a
/// fixed 64-byte header, the sample id, the image planes, the canopy mask, the instance ids, the
/// tree table, and a SHA-256 of everything before it. docs/datasets.md lays it out byte by byte.
///
/// The SHA-256 trailer is the sample's content hash: the catalog and manifests name a sample's
/// bytes by it, and it does not depend on the compression level or zlib version.
///
/// Readers check the header before they allocate, and name the file and the problem in every
/// error: bad magic, unknown version, impossible sizes, truncation, corrupt gzip data, and a
/// trailer that does not match the content.
public enum SampleFile {
    /// File name suffix of sample files.
    public static let fileExtension = "gts.gz"
    /// The first eight bytes of the decompressed content.
    public static let magic: [UInt8] = Array("GROVESMP".utf8)
    /// The only version this reader understands.
    public static let version: UInt16 = 1
    /// Bytes of the fixed header (version 1).
    public static let headerSize = 64
    /// Bytes of one tree record.
    public static let treeRecordSize = 20
    /// Bytes of the SHA-256 trailer.
    public static let trailerSize = 32
    /// `dtype` code of unsigned 8-bit planes, the only one defined.
    public static let dtypeUInt8: UInt8 = 1

    /// Bounds a header must respect; anything outside is refused before any allocation.
    public enum Limits {
        public static let maxSide = 16_384
        public static let maxPixels = 1 << 26
        public static let maxBands = 8
        public static let maxIDBytes = 1_024
        public static let maxTrees = Int(UInt16.max)
    }

    /// Encodes `tile` as the bytes of a sample file.
    public static func encode(_ tile: Tile) -> [UInt8] { encodeWithContentHash(tile).bytes }

    /// Encodes `tile` and returns the file bytes with the content hash (lower-case hex) stored in
    /// their trailer.
    public static func encodeWithContentHash(_ tile: Tile) -> (bytes: [UInt8], contentHash: String) {
        let plain = content(tile)
        return (Gzip.compress(plain), plain.suffix(trailerSize).hexString)
    }

    /// Throws unless `tile` fits the format's limits: callers holding tiles from outside (an
    /// import) check first, because `encode` treats an unfit tile as a programming error.
    public static func check(_ tile: Tile) throws(DatasetError) {
        guard fits(tile) else {
            throw DatasetError(code: "sample.impossible-size",
                               "tile \(tile.id) (\(tile.width)x\(tile.height), \(tile.bands) bands, \(tile.trees.count) trees, GSD \(tile.groundSampleDistance)) is outside the sample format's limits")
        }
    }

    static func fits(_ tile: Tile) -> Bool {
        tile.id.utf8.count <= Limits.maxIDBytes && tile.trees.count <= Limits.maxTrees
            && (1...Limits.maxBands).contains(tile.bands) && (1...Limits.maxSide).contains(tile.width)
            && (1...Limits.maxSide).contains(tile.height) && tile.pixelCount <= Limits.maxPixels
            && tile.groundSampleDistance.isFinite && tile.groundSampleDistance > 0
    }

    /// The decompressed content of `tile`'s sample file, trailer included.
    static func content(_ tile: Tile) -> [UInt8] {
        let id = Array(tile.id.utf8)
        // A tile the reader would refuse must never be written.
        precondition(fits(tile), "tile \(tile.id) (\(tile.width)x\(tile.height)x\(tile.bands)) exceeds the sample format's limits")
        let layout = Layout(width: tile.width, height: tile.height, bands: tile.bands, idBytes: id.count, trees: tile.trees.count)
        var writer = ByteWriter(capacity: layout.total)
        writer.append(contentsOf: magic)
        writer.append(version)
        writer.append(UInt16(headerSize))
        writer.append(UInt32(tile.width))
        writer.append(UInt32(tile.height))
        writer.append(UInt8(tile.bands))
        writer.append(dtypeUInt8)
        writer.append(UInt16(id.count))
        writer.append(tile.groundSampleDistance)
        writer.append(UInt32(tile.trees.count))
        writer.append(UInt64(layout.payload))
        writer.appendZeros(headerSize - writer.bytes.count)
        writer.append(contentsOf: id)
        writer.append(contentsOf: tile.pixels)
        writer.append(contentsOf: tile.canopy)
        #if _endian(little)
        tile.instances.withUnsafeBytes { writer.bytes.append(contentsOf: $0) }
        #else
        for value in tile.instances { writer.append(value) }
        #endif
        for tree in tile.trees {
            writer.append(tree.id)
            writer.append(UInt16(0))
            writer.append(tree.centerX)
            writer.append(tree.centerY)
            writer.append(tree.radius)
            writer.append(UInt32(clamping: tree.visiblePixels))
        }
        writer.append(contentsOf: SHA256.hash(writer.bytes))
        return writer.bytes
    }

    /// Decodes a sample file; `origin` (a path or URL) names it in errors.
    public static func decode(_ bytes: [UInt8], origin: String) throws(DatasetError) -> Tile {
        try decodeWithContentHash(bytes, origin: origin).tile
    }

    /// Decodes a sample file and returns its content hash (lower-case hex).
    ///
    /// With `verifyHash` (the default) the hash is recomputed and must match the trailer. Without
    /// it the trailer is trusted: the gzip CRC-32 still rejects damaged files, decoding takes
    /// about half the time, but a deliberately rewritten file with a matching trailer would pass.
    public static func decodeWithContentHash(_ bytes: [UInt8], origin: String, verifyHash: Bool = true) throws(DatasetError) -> (tile: Tile, contentHash: String) {
        let result: Result<(Tile, String), DatasetError> = bytes.withUnsafeBytes { raw in
            do throws(DatasetError) {
                return .success(try SampleDecoder(input: raw, origin: origin, verifyHash: verifyHash).decode())
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    /// Sizes of a sample's sections, derived from its header fields.
    struct Layout {
        var width: Int, height: Int, bands: Int, idBytes: Int, trees: Int
        var pixelCount: Int { width * height }
        /// Bytes between the header and the trailer.
        var payload: Int { idBytes + pixelCount * bands + pixelCount + 2 * pixelCount + trees * SampleFile.treeRecordSize }
        var total: Int { SampleFile.headerSize + payload + SampleFile.trailerSize }
    }
}
