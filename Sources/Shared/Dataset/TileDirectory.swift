import Foundation

/// A directory of tiles in the layout of the vendored aerial sample: `tiles.csv` and
/// `instances.csv` describe PNG images, canopy masks and instance-id masks.
public struct TileDirectory: Sendable {
    public var root: String
    public var entries: [Entry]
    /// Where the files come from when not from `root` on this machine: a source that serves them
    /// by path relative to the directory (a worker's copy of the coordinator's directory).
    public var files: (any SampleSource)?

    /// One row of `tiles.csv`.
    public struct Entry: Sendable, Equatable {
        public var id: String
        public var split: String
        public var site: String
        public var groundSampleDistance: Float
        public var image: String
        public var mask: String
        public var instances: String
        /// From the optional `labels_complete` column: false when some trees are not labelled.
        public var labelsComplete: Bool = true
        /// From the optional `crop` column; nil when the table has none.
        public var crop: String?
        /// From the optional `source_image`, `x` and `y` columns; nil when the table has none.
        public var origin: TileOrigin?
    }

    /// Reads the directory's tables; images are decoded on demand by `load`.
    ///
    /// - Parameter files: reads the files by relative path instead of under `root` (which then
    ///   only names the directory in messages).
    public static func open(_ root: String, files: (any SampleSource)? = nil) throws(DatasetError) -> TileDirectory {
        let table: CSVTable
        if let files {
            table = try CSVTable.parse(String(decoding: try files.read(path: "tiles.csv"), as: UTF8.self), origin: root + "/tiles.csv")
        } else {
            table = try CSVTable.read(root + "/tiles.csv")
        }
        let id = try table.column("tile_id"), split = try table.column("split"), site = try table.column("site")
        let gsd = try table.column("gsd_m"), image = try table.column("image")
        let mask = try table.column("mask"), instances = try table.column("instances")
        let complete = table.header.firstIndex(of: "labels_complete"), crop = table.header.firstIndex(of: "crop")
        let sourceImage = table.header.firstIndex(of: "source_image")
        let left = table.header.firstIndex(of: "x"), top = table.header.firstIndex(of: "y")
        var entries: [Entry] = []
        for (line, row) in table.rows.enumerated() {
            guard let metres = Float(row[gsd]), metres > 0, metres.isFinite else {
                throw DatasetError(code: "tiles.bad-value",
                                   "\(table.origin) line \(line + 2): gsd_m '\(row[gsd])' is not a positive number")
            }
            var origin: TileOrigin?
            if let sourceImage, let left, let top {
                guard let x = Int(row[left]), let y = Int(row[top]), x >= 0, y >= 0 else {
                    throw DatasetError(code: "tiles.bad-value",
                                       "\(table.origin) line \(line + 2): tile position x '\(row[left])', y '\(row[top])' is not a pair of pixel offsets >= 0")
                }
                origin = TileOrigin(image: row[sourceImage], x: x, y: y)
            }
            entries.append(Entry(id: row[id], split: row[split], site: row[site], groundSampleDistance: metres,
                                 image: row[image], mask: row[mask], instances: row[instances],
                                 labelsComplete: complete.map { row[$0] != "0" } ?? true, crop: crop.map { row[$0] },
                                 origin: origin))
        }
        return TileDirectory(root: root, entries: entries, files: files)
    }

    /// Every file a worker needs to load the directory: the tables and each tile's three images,
    /// relative to `root`, in a fixed order.
    public var fileList: [String] {
        var seen: Set<String> = ["tiles.csv"]
        var list = ["tiles.csv"]
        if files?.exists(path: "instances.csv") ?? FileManager.default.fileExists(atPath: root + "/instances.csv") {
            list.append("instances.csv")
            seen.insert("instances.csv")
        }
        for entry in entries {
            for path in [entry.image, entry.mask, entry.instances] where seen.insert(path).inserted { list.append(path) }
        }
        return list
    }

    private func png(_ path: String, as format: PNGImage.Format) throws(DatasetError) -> PNGImage {
        guard let files else { return try PNGImage.read(root + "/" + path, as: format) }
        return try PNGImage.decode(Data(try files.read(path: path)), as: format, origin: root + "/" + path)
    }

    /// Decodes every tile with its masks and the tree table of `instances.csv`.
    public func loadAll() throws(DatasetError) -> [Tile] {
        let trees = try treeTable()
        var tiles: [Tile] = []
        tiles.reserveCapacity(entries.count)
        for entry in entries { tiles.append(try load(entry, trees: trees[entry.id] ?? [])) }
        return tiles
    }

    func load(_ entry: Entry, trees: [TreeInstance]) throws(DatasetError) -> Tile {
        let rgb = try png(entry.image, as: .rgb)
        let mask = try png(entry.mask, as: .gray)
        let ids = try png(entry.instances, as: .gray)
        guard mask.width == rgb.width, mask.height == rgb.height, ids.width == rgb.width, ids.height == rgb.height else {
            throw DatasetError(code: "tiles.size-mismatch",
                               "\(entry.id): image is \(rgb.width)x\(rgb.height) but its masks are \(mask.width)x\(mask.height) and \(ids.width)x\(ids.height)")
        }
        let count = rgb.width * rgb.height
        var planes = [UInt8](repeating: 0, count: 3 * count)
        for p in 0..<count {
            planes[p] = rgb.bytes[3 * p]
            planes[count + p] = rgb.bytes[3 * p + 1]
            planes[2 * count + p] = rgb.bytes[3 * p + 2]
        }
        let canopy = mask.bytes.map { $0 > 0 ? UInt8(1) : 0 }
        return Tile(id: entry.id, width: rgb.width, height: rgb.height, bands: 3,
                    groundSampleDistance: entry.groundSampleDistance, pixels: planes, canopy: canopy,
                    instances: ids.bytes.map { UInt16($0) }, trees: trees)
    }

    /// Trees per tile from `instances.csv`: the centre and radius of each annotated box.
    func treeTable() throws(DatasetError) -> [String: [TreeInstance]] {
        let path = root + "/instances.csv"
        let table: CSVTable
        if let files {
            guard files.exists(path: "instances.csv") else { return [:] }
            table = try CSVTable.parse(String(decoding: try files.read(path: "instances.csv"), as: UTF8.self), origin: path)
        } else {
            guard FileManager.default.fileExists(atPath: path) else { return [:] }
            table = try CSVTable.read(path)
        }
        let tile = try table.column("tile_id"), inst = try table.column("inst_id"), visible = try table.column("visible_px")
        let x0 = try table.column("box_xmin"), y0 = try table.column("box_ymin")
        let x1 = try table.column("box_xmax"), y1 = try table.column("box_ymax")
        var result: [String: [TreeInstance]] = [:]
        for (line, row) in table.rows.enumerated() {
            guard let id = UInt16(row[inst]), let px = Int(row[visible]),
                  let a = Float(row[x0]), let b = Float(row[y0]), let c = Float(row[x1]), let d = Float(row[y1]) else {
                throw DatasetError(code: "tiles.bad-value", "\(path) line \(line + 2) has a field that is not a number")
            }
            let tree = TreeInstance(id: id, centerX: (a + c) / 2, centerY: (b + d) / 2,
                                    radius: ((c - a) + (d - b)) / 4, visiblePixels: px)
            result[row[tile], default: []].append(tree)
        }
        return result
    }
}
