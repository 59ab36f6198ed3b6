import Dataset
import Foundation
import Model

extension CoordinatorRuntime {
    /// Tiles per held-out manifest on the report's sheet.
    static let sheetTiles = 6

    /// The report's section of held-out tiles with true (cyan) and predicted (yellow) canopy
    /// outlines at the run's last weights: one row of up to six tiles, spread over each held-out
    /// manifest (or over the pooled held-out tiles), each an inline PNG so the page stays one file.
    /// Empty for models that do not predict canopy maps or runs without held-out tiles.
    func validationSheetHTML() -> String {
        guard let net = setup.model as? CanopyNet, !setup.validation.isEmpty else { return "" }
        let parts: [(name: String, range: Range<Int>)] = setup.validationSplits.isEmpty
            ? [("held-out tiles", 0..<setup.validation.count)]
            : setup.validationSplits.map { ($0.name, $0.range) }
        var rows: [String] = []
        for part in parts {
            let tiles = ValidationSheet.pick(Self.sheetTiles, from: part.range).map { setup.validation[$0] }
            guard let image = ValidationSheet.render(net: net, parameters: state.parameters, tiles: tiles),
                  let png = try? image.encoded() else { continue }
            let names = tiles.map(\.id).joined(separator: ", ")
            rows.append("""
                <h3>\(escapeHTML(part.name))</h3>
                <img alt="\(escapeHTML(names))" title="\(escapeHTML(names))" width="\(image.width * 2)" height="\(image.height * 2)" \
                style="image-rendering: pixelated" src="data:image/png;base64,\(png.base64EncodedString())">
                <p>\(escapeHTML(names))</p>
                """)
        }
        guard !rows.isEmpty else { return "" }
        return """
            <h2>Held-out tiles at step \(state.committedStep)</h2>
            <p>True canopy outlined in cyan, predicted canopy (probability ≥ 0.5) in yellow.</p>
            \(rows.joined(separator: "\n"))
            """
    }

    private func escapeHTML(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
