import Dataset
import Foundation
@testable import Model
import Testing

@Suite struct TreeTableTests {
    static let trees = [
        InstanceExtraction.Tree(centreX: 10.5, centreY: 20.5, score: 0.875, pixels: Array(0..<50), areaSquareMetres: 0),
        InstanceExtraction.Tree(centreX: 3.25, centreY: 4, score: 0, pixels: Array(0..<31), areaSquareMetres: 0),
    ]

    @Test func csvInPixelsWithAreasWhenThePixelSizeIsKnown() {
        let table = TreeTable(trees: Self.trees, pixelArea: 0.01, worldFile: nil)
        #expect(table.csv == """
            id,pixel_x,pixel_y,crown_pixels,crown_area_m2,score
            1,10.50,20.50,50,0.500,0.8750
            2,3.25,4.00,31,0.310,0.0000

            """)
        let unknown = TreeTable(trees: Self.trees, pixelArea: nil, worldFile: nil)
        #expect(unknown.csv.split(separator: "\n")[1] == "1,10.50,20.50,50,,0.8750")
    }

    @Test func georeferencedTableCarriesMapCoordinatesIntoGeoJSON() throws {
        let world = WorldFile.northUp(pixelSize: 0.1, originX: 541000, originY: 4978000)
        let table = TreeTable(trees: Self.trees, pixelArea: world.pixelArea, worldFile: world)
        #expect(table.csv.split(separator: "\n")[0] == "id,pixel_x,pixel_y,map_x,map_y,crown_pixels,crown_area_m2,score")
        #expect(table.csv.split(separator: "\n")[1] == "1,10.50,20.50,541001.050,4977997.950,50,0.500,0.8750")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(table.geoJSON(crs: "EPSG:32612").utf8)) as? [String: Any])
        #expect(json["type"] as? String == "FeatureCollection")
        #expect(((json["crs"] as? [String: Any])?["properties"] as? [String: Any])?["name"] as? String == "EPSG:32612")
        let features = try #require(json["features"] as? [[String: Any]])
        #expect(features.count == 2)
        let point = try #require((features[0]["geometry"] as? [String: Any])?["coordinates"] as? [Double])
        #expect(abs(point[0] - 541001.05) < 1e-6 && abs(point[1] - 4977997.95) < 1e-6)
        let properties = try #require(features[1]["properties"] as? [String: Any])
        #expect(properties["crown_pixels"] as? Int == 31 && properties["id"] as? Int == 2)
        #expect(abs((properties["crown_area_m2"] as? Double ?? 0) - 0.31) < 1e-9)
    }

    @Test func pixelGeoJSONSaysItsCoordinatesArePixels() throws {
        let text = TreeTable(trees: Self.trees, pixelArea: nil, worldFile: nil).geoJSON(crs: "EPSG:4326")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        #expect(json["crs"] == nil)  // no map frame: a CRS would be a lie
        #expect((json["grove_coordinates"] as? String)?.hasPrefix("pixel") == true)
        let features = try #require(json["features"] as? [[String: Any]])
        #expect((features[0]["geometry"] as? [String: Any])?["coordinates"] as? [Double] == [10.5, 20.5])
        #expect((features[0]["properties"] as? [String: Any])?["crown_area_m2"] is NSNull)
    }

    @Test func overlayOutlinesCrownsAndDarkensBackground() {
        let width = 12, height = 10, plane = width * height
        let image = TiledPrediction.Image(width: width, height: height, bands: 3, pixels: [UInt8](repeating: 200, count: 3 * plane))
        // One square crown of 4x4 at (4...7, 3...6), canopy exactly there.
        let pixels = (3...6).flatMap { y in (4...7).map { y * width + $0 } }
        var canopy = [Bool](repeating: false, count: plane)
        for p in pixels { canopy[p] = true }
        let tree = InstanceExtraction.Tree(centreX: 0.5, centreY: 9.5, score: 1, pixels: pixels, areaSquareMetres: 0)
        let out = PredictionOverlay.render(image: image, canopy: canopy, trees: [tree])
        func rgb(_ x: Int, _ y: Int) -> [UInt8] { Array(out[((y * width + x) * 3)..<((y * width + x) * 3 + 3)]) }
        #expect(rgb(4, 3) == [255, 220, 0])     // crown edge
        #expect(rgb(5, 4) == [200, 200, 200])   // crown inside, canopy: unchanged
        #expect(rgb(11, 0) == [80, 80, 80])     // background: darkened to 40 %
        #expect(rgb(0, 9) == [255, 32, 32] && rgb(3, 9) == [255, 32, 32])  // the centre's cross, clipped at the edge
    }
}
