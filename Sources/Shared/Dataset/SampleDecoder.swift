import Core

/// Reads one sample file section by section, inflating each straight into the array it ends up
/// in and hashing it on the way, so that a decode costs one inflate and one hash pass and no copy.
struct SampleDecoder {
    let input: UnsafeRawBufferPointer
    let origin: String
    /// Recompute the SHA-256 and compare it with the trailer. Without it the gzip CRC-32 still
    /// catches damage, and the trailer still names the content, but a file rewritten with a
    /// forged trailer would pass.
    var verifyHash = true

    func fail(_ code: String, _ problem: String) -> DatasetError {
        DatasetError(code: "sample.\(code)", "sample file \(origin): \(problem)")
    }

    func decode() throws(DatasetError) -> (Tile, String) {
        guard input.count >= 2, input[0] == 0x1f, input[1] == 0x8b else {
            throw fail("not-gzip", "is not gzip data (\(input.count) bytes, first bytes \(Array(input.prefix(2)).hexString))")
        }
        let reader = GzipReader(input: input)
        var hasher = SHA256()
        var header = [UInt8](repeating: 0, count: SampleFile.headerSize)
        try read(&header, "header", reader, &hasher)
        let (layout, gsd) = try parseHeader(header)
        // The header's sizes are within the format's limits, but a few bytes of gzip can still
        // claim 755 MB (8 bands of 8192x8192): the content must also fit in what these compressed
        // bytes can inflate to, and each section is allocated only once the ones before it have
        // arrived, so a file cut short never costs more than it holds.
        let inflatable = input.count * Gzip.maximumExpansion
        guard layout.total <= inflatable else {
            throw fail("impossible-size", "header claims \(layout.total) bytes of content (\(layout.width)x\(layout.height), \(layout.bands) bands, \(layout.trees) trees) but its \(input.count) compressed bytes inflate to at most \(inflatable)")
        }

        var idBytes = [UInt8](repeating: 0, count: layout.idBytes)
        try read(&idBytes, "sample id", reader, &hasher)
        var pixels = [UInt8](repeating: 0, count: layout.pixelCount * layout.bands)
        try read(&pixels, "image planes", reader, &hasher)
        var canopy = [UInt8](repeating: 0, count: layout.pixelCount)
        try read(&canopy, "canopy mask", reader, &hasher)
        var instances = [UInt16](repeating: 0, count: layout.pixelCount)
        try read(&instances, "instance ids", reader, &hasher)
        #if _endian(big)
        for i in instances.indices { instances[i] = UInt16(littleEndian: instances[i]) }
        #endif
        var treeBytes = [UInt8](repeating: 0, count: layout.trees * SampleFile.treeRecordSize)
        try read(&treeBytes, "tree table", reader, &hasher)
        var trailer = [UInt8](repeating: 0, count: SampleFile.trailerSize)
        try withMutableBytes(of: &trailer) { (buffer) throws(DatasetError) in
            try inflate(into: buffer, section: "checksum trailer", from: reader, last: true)
        }
        guard reader.remainingInput == 0 else {
            throw fail("trailing-bytes", "has \(reader.remainingInput) bytes after the end of its gzip data")
        }
        let digest = verifyHash ? hasher.finalize() : trailer
        guard digest == trailer else {
            throw fail("checksum-mismatch", "content hashes to \(digest.hexString) but its trailer says \(trailer.hexString)")
        }
        guard let id = String(validating: idBytes, as: UTF8.self) else {
            throw fail("bad-id", "its sample id is not valid UTF-8")
        }
        let trees = parseTrees(treeBytes, count: layout.trees)
        let tile = Tile(id: id, width: layout.width, height: layout.height, bands: layout.bands,
                        groundSampleDistance: gsd, pixels: pixels, canopy: canopy, instances: instances, trees: trees)
        return (tile, digest.hexString)
    }

    private func read<Element>(_ array: inout [Element], _ section: String, _ reader: GzipReader, _ hasher: inout SHA256) throws(DatasetError) {
        try withMutableBytes(of: &array) { (buffer) throws(DatasetError) in
            try inflate(into: buffer, section: section, from: reader)
            if verifyHash { hasher.update(UnsafeRawBufferPointer(buffer)) }
        }
    }

    /// `Array.withUnsafeMutableBytes` rethrows untyped errors; this keeps the decoder's typed throws.
    private func withMutableBytes<Element>(
        of array: inout [Element], _ body: (UnsafeMutableRawBufferPointer) throws(DatasetError) -> Void
    ) throws(DatasetError) {
        let result: Result<Void, DatasetError> = array.withUnsafeMutableBytes { buffer in
            do throws(DatasetError) { try body(buffer); return .success(()) } catch { return .failure(error) }
        }
        try result.get()
    }

    /// Fills `buffer` exactly; only the last section may (and must) end the gzip member.
    private func inflate(into buffer: UnsafeMutableRawBufferPointer, section: String, from reader: GzipReader, last: Bool = false) throws(DatasetError) {
        switch reader.fill(buffer) {
        case .filled:
            if last {
                // The content must end exactly here: one more byte of output means the header lied.
                var probe: UInt8 = 0
                let extra = withUnsafeMutableBytes(of: &probe) { reader.fill($0) }
                switch extra {
                case .ended(written: 0): return
                case .truncated(written: 0): throw fail("truncated", "ends inside its gzip trailer")
                case .corrupt(let reason): throw fail("corrupt", "gzip data is damaged (\(reason))")
                default: throw fail("too-long", "has more content than its header describes")
                }
            }
        case .ended(let written):
            if last && written == buffer.count { return }
            throw fail("truncated", "content ends \(buffer.count - written) bytes short of the end of its \(section)")
        case .truncated(let written):
            throw fail("truncated", "file ends in its \(section) (\(written) of \(buffer.count) bytes present)")
        case .corrupt(let reason):
            throw fail("corrupt", "gzip data is damaged in its \(section) (\(reason))")
        }
    }

    private func parseHeader(_ header: [UInt8]) throws(DatasetError) -> (SampleFile.Layout, Float) {
        guard Array(header.prefix(8)) == SampleFile.magic else {
            throw fail("bad-magic", "starts with \(Array(header.prefix(8)).hexString), not the sample magic \(SampleFile.magic.hexString)")
        }
        let parsed: Result<(SampleFile.Layout, Float), DatasetError> = header.withUnsafeBytes { raw in
            do throws(DatasetError) { return .success(try parseFields(raw)) } catch { return .failure(error) }
        }
        return try parsed.get()
    }

    private func parseFields(_ raw: UnsafeRawBufferPointer) throws(DatasetError) -> (SampleFile.Layout, Float) {
        var reader = ByteReader(raw, offset: 8)
        let version = reader.read(UInt16.self)
        guard version == SampleFile.version else {
            throw fail("unknown-version", "has format version \(version); this reader understands version \(SampleFile.version)")
        }
        let headerSize = reader.read(UInt16.self)
        let width = Int(reader.read(UInt32.self)), height = Int(reader.read(UInt32.self))
        let bands = Int(reader.read(UInt8.self)), dtype = reader.read(UInt8.self)
        let idBytes = Int(reader.read(UInt16.self))
        let gsd = reader.readFloat()
        let trees = Int(reader.read(UInt32.self))
        let payload = reader.read(UInt64.self)
        guard Int(headerSize) == SampleFile.headerSize else {
            throw fail("impossible-size", "header size \(headerSize) is not \(SampleFile.headerSize)")
        }
        guard (1...SampleFile.Limits.maxSide).contains(width), (1...SampleFile.Limits.maxSide).contains(height),
              width * height <= SampleFile.Limits.maxPixels else {
            throw fail("impossible-size", "size \(width)x\(height) is outside 1...\(SampleFile.Limits.maxSide) per side or \(SampleFile.Limits.maxPixels) pixels")
        }
        guard (1...SampleFile.Limits.maxBands).contains(bands) else {
            throw fail("impossible-size", "band count \(bands) is outside 1...\(SampleFile.Limits.maxBands)")
        }
        guard dtype == SampleFile.dtypeUInt8 else {
            throw fail("unknown-dtype", "dtype code \(dtype) is not 1 (uint8)")
        }
        guard idBytes <= SampleFile.Limits.maxIDBytes, trees <= SampleFile.Limits.maxTrees else {
            throw fail("impossible-size", "id length \(idBytes) or tree count \(trees) exceeds \(SampleFile.Limits.maxIDBytes) / \(SampleFile.Limits.maxTrees)")
        }
        guard gsd.isFinite, gsd > 0 else {
            throw fail("bad-value", "ground sample distance \(gsd) is not a positive number")
        }
        let layout = SampleFile.Layout(width: width, height: height, bands: bands, idBytes: idBytes, trees: trees)
        guard payload == UInt64(layout.payload) else {
            throw fail("impossible-size", "header says \(payload) payload bytes but its sizes make \(layout.payload)")
        }
        return (layout, gsd)
    }

    private func parseTrees(_ bytes: [UInt8], count: Int) -> [TreeInstance] {
        bytes.withUnsafeBytes { raw in
            var reader = ByteReader(raw)
            return (0..<count).map { _ in
                let id = reader.read(UInt16.self)
                _ = reader.read(UInt16.self)
                let x = reader.readFloat(), y = reader.readFloat(), radius = reader.readFloat()
                let visible = Int(reader.read(UInt32.self))
                return TreeInstance(id: id, centerX: x, centerY: y, radius: radius, visiblePixels: visible)
            }
        }
    }
}
