import Foundation

extension Catalog {
    /// Imports a tile directory (`tiles.csv` + `instances.csv` + PNGs, as `data/aerial-sample`):
    /// each tile becomes a sample file and a catalog row, all rows in one transaction.
    ///
    /// - Parameters:
    ///   - tileDirectory: the directory's path.
    ///   - source: the catalog `source`; defaults to the directory's name.
    ///   - crop: the crop of tiles whose table has no `crop` column.
    /// - Returns: how many samples were added and how many were already present unchanged.
    @discardableResult
    public func `import`(tileDirectory: String, source: String? = nil, crop: String = "unknown") throws(DatasetError) -> InsertSummary {
        let directory = try TileDirectory.open(tileDirectory)
        let trees = try directory.treeTable()
        let sourceName = source ?? URL(fileURLWithPath: tileDirectory).standardizedFileURL.lastPathComponent
        var prepared: [PreparedSample] = []
        prepared.reserveCapacity(directory.entries.count)
        for entry in directory.entries {
            let tile = try directory.load(entry, trees: trees[entry.id] ?? [])
            try SampleFile.check(tile)
            let labels = SampleLabels(source: sourceName, site: entry.site, crop: entry.crop ?? crop, split: entry.split,
                                      netting: false, plantingDensity: nil, synthetic: false, labelsComplete: entry.labelsComplete,
                                      origin: entry.origin)
            prepared.append(PreparedSample(tile: tile, labels: labels))
        }
        return try insert(prepared)
    }
}
