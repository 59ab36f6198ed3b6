import Dataset
import Foundation

/// The trees found in an image, as a table a person or a GIS reads: CSV and GeoJSON.
///
/// Coordinates are pixel coordinates of the image (x right, y down; pixel `x` covers `[x, x + 1)`)
/// and, when the image is georeferenced by a world file, map coordinates in the world file's frame
/// as well. Crown areas are in square metres when the pixel size is known (`--gsd`, or the world
/// file's pixel area, assumed in metres), else absent.
public struct TreeTable: Sendable, Equatable {
    public struct Row: Sendable, Equatable {
        /// 1-based, in extraction order (seeded trees first, by seed; then unseeded crowns).
        public var id: Int
        public var pixelX: Double
        public var pixelY: Double
        public var mapX: Double?
        public var mapY: Double?
        public var crownPixels: Int
        public var crownAreaSquareMetres: Double?
        /// The centre heatmap's peak value at the seed; 0 for a crown found without a seed.
        public var score: Double
    }

    public var rows: [Row]
    public var georeferenced: Bool

    /// - Parameters:
    ///   - pixelArea: square metres per pixel, or nil when unknown.
    ///   - worldFile: the image's georeferencing, or nil for pixel coordinates only.
    public init(trees: [InstanceExtraction.Tree], pixelArea: Double?, worldFile: WorldFile?) {
        georeferenced = worldFile != nil
        rows = trees.enumerated().map { index, tree in
            let x = Double(tree.centreX), y = Double(tree.centreY)
            let map = worldFile?.map(x: x, y: y)
            return Row(id: index + 1, pixelX: x, pixelY: y, mapX: map?.x, mapY: map?.y, crownPixels: tree.pixelArea,
                       crownAreaSquareMetres: pixelArea.map { Double(tree.pixelArea) * $0 }, score: Double(tree.score))
        }
    }

    private static func fixed(_ value: Double?, _ digits: Int) -> String? {
        value.map { String(format: "%.\(digits)f", $0) }
    }

    /// One header line, then one line per tree. Map columns only when georeferenced; an unknown
    /// area is an empty field.
    public var csv: String {
        var header = ["id", "pixel_x", "pixel_y"]
        if georeferenced { header += ["map_x", "map_y"] }
        header += ["crown_pixels", "crown_area_m2", "score"]
        var lines = [header.joined(separator: ",")]
        for row in rows {
            var fields = [String(row.id), TreeTable.fixed(row.pixelX, 2)!, TreeTable.fixed(row.pixelY, 2)!]
            if georeferenced { fields += [TreeTable.fixed(row.mapX, 3)!, TreeTable.fixed(row.mapY, 3)!] }
            fields += [String(row.crownPixels), TreeTable.fixed(row.crownAreaSquareMetres, 3) ?? "", TreeTable.fixed(row.score, 4)!]
            lines.append(fields.joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// A GeoJSON FeatureCollection of tree centres (Point features). Georeferenced: the points are
    /// in the world file's map coordinates, and `crs` (e.g. `EPSG:32612`), when given, is written
    /// as the legacy `crs` member, which GDAL and QGIS read (RFC 7946 itself assumes WGS 84; Grove
    /// does not reproject). Otherwise the points are pixel coordinates, y down, and the collection
    /// says so in its `grove_coordinates` member.
    public func geoJSON(crs: String?) -> String {
        func number(_ value: Double?, _ digits: Int) -> String { TreeTable.fixed(value, digits) ?? "null" }
        let features = rows.map { row -> String in
            let point = georeferenced ? "[\(number(row.mapX, 3)), \(number(row.mapY, 3))]" : "[\(number(row.pixelX, 2)), \(number(row.pixelY, 2))]"
            return """
                {"type": "Feature", "geometry": {"type": "Point", "coordinates": \(point)}, \
            "properties": {"id": \(row.id), "pixel_x": \(number(row.pixelX, 2)), "pixel_y": \(number(row.pixelY, 2)), \
            "crown_pixels": \(row.crownPixels), "crown_area_m2": \(number(row.crownAreaSquareMetres, 3)), "score": \(number(row.score, 4))}}
            """
        }
        var members = ["\"type\": \"FeatureCollection\"",
                       "\"grove_coordinates\": \"\(georeferenced ? "map (world file)" : "pixel (x right, y down)")\""]
        if georeferenced, let crs {
            let escaped = crs.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            members.append("\"crs\": {\"type\": \"name\", \"properties\": {\"name\": \"\(escaped)\"}}")
        }
        members.append("\"features\": [\n" + features.joined(separator: ",\n") + "\n]")
        return "{\n" + members.joined(separator: ",\n") + "\n}\n"
    }
}
