/// Mapping between `SampleRecord` and the `samples` table's columns, and summaries over them.
extension Catalog {
    /// Sample counts and means for one source, crop and split.
    public struct GroupSummary: Sendable, Equatable {
        public var source: String
        public var crop: String
        public var split: String
        public var samples: Int
        public var meanTreeCount: Double
        public var meanCanopyFraction: Double
    }

    /// One summary per (source, crop, split), sorted.
    public func summary() throws(DatasetError) -> [GroupSummary] {
        try db.rows("""
            SELECT source, crop, split, count(*), avg(tree_count), avg(canopy_fraction)
            FROM samples GROUP BY source, crop, split ORDER BY source, crop, split
            """).map { row in
            GroupSummary(source: row[0].string ?? "", crop: row[1].string ?? "", split: row[2].string ?? "",
                         samples: row[3].int ?? 0, meanTreeCount: row[4].double ?? 0, meanCanopyFraction: row[5].double ?? 0)
        }
    }

    static let columns = """
        id, path, content_hash, source, site, crop, split, width, height, bands, gsd_m, canopy_fraction, \
        tree_count, mean_tree_area_m2, netting, planting_density, synthetic, labels_complete, added_at, \
        last_loss, last_seen_step, source_image, tile_x, tile_y
        """
    static let placeholders = Array(repeating: "?", count: 24).joined(separator: ", ")

    static func values(of r: SampleRecord) -> [SQLite.Value] {
        [
            .text(r.id), .text(r.path), .text(r.contentHash), .text(r.labels.source), .text(r.labels.site),
            .text(r.labels.crop), .text(r.labels.split), .integer(Int64(r.width)), .integer(Int64(r.height)),
            .integer(Int64(r.bands)), .real(r.groundSampleDistance), .real(r.canopyFraction),
            .integer(Int64(r.treeCount)), .real(r.meanTreeArea), .integer(r.labels.netting ? 1 : 0),
            r.labels.plantingDensity.map { .real($0) } ?? .null, .integer(r.labels.synthetic ? 1 : 0),
            .integer(r.labels.labelsComplete ? 1 : 0), .text(r.addedAt),
            r.lastLoss.map { .real($0) } ?? .null, r.lastSeenStep.map { .integer(Int64($0)) } ?? .null,
            r.labels.origin.map { .text($0.image) } ?? .null, r.labels.origin.map { .integer(Int64($0.x)) } ?? .null,
            r.labels.origin.map { .integer(Int64($0.y)) } ?? .null,
        ]
    }

    static func record(from row: [SQLite.Value], in directory: String) throws(DatasetError) -> SampleRecord {
        func text(_ i: Int) throws(DatasetError) -> String {
            guard let v = row[i].string else { throw bad(i) }
            return v
        }
        func int(_ i: Int) throws(DatasetError) -> Int {
            guard let v = row[i].int else { throw bad(i) }
            return v
        }
        func real(_ i: Int) throws(DatasetError) -> Double {
            guard let v = row[i].double else { throw bad(i) }
            return v
        }
        func bad(_ i: Int) -> DatasetError {
            DatasetError(code: "catalog.bad-row", "catalog \(directory): column \(i + 1) of sample \(row[0]) holds \(row[i])")
        }
        let labels = SampleLabels(
            source: try text(3), site: try text(4), crop: try text(5), split: try text(6), netting: try int(14) != 0,
            plantingDensity: row[15].double, synthetic: try int(16) != 0, labelsComplete: try int(17) != 0,
            origin: row[21].string.flatMap { image in row[22].int.flatMap { x in row[23].int.map { TileOrigin(image: image, x: x, y: $0) } } })
        return SampleRecord(
            id: try text(0), path: try text(1), contentHash: try text(2), labels: labels, width: try int(7),
            height: try int(8), bands: try int(9), groundSampleDistance: try real(10), canopyFraction: try real(11),
            treeCount: try int(12), meanTreeArea: try real(13), addedAt: try text(18), lastLoss: row[19].double,
            lastSeenStep: row[20].int)
    }
}
