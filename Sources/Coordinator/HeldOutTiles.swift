import Dataset
import Foundation
import Training

/// The tiles of a manifest to score, grouped by source and site, with what the training manifest
/// says about them: a score on tiles the model trained on, or on their neighbours, is not a
/// measure of how it does on places it has not seen.
struct HeldOutTiles {
    var tiles: [Tile]
    var groups: [(name: String, range: Range<Int>)]
    var notes: [String]

    static func load(manifest path: String, training trainingPath: String, margin: Int) throws -> HeldOutTiles {
        let manifest = try Manifest.load(path)
        let catalog = try Catalog(directory: Manifest.catalogDirectory(ofManifestAt: path), create: false)
        var records: [SampleRecord] = []
        for entry in manifest.entries {
            guard let record = try catalog.record(id: entry.id) else {
                throw DatasetError(code: "catalog.unknown-sample", "manifest \(path) names sample \(entry.id), which is not in \(catalog.directory)")
            }
            records.append(record)
        }
        // Grouped by source and site, in first-seen order; tiles in manifest order within a group.
        var order: [String] = [], members: [String: [Int]] = [:]
        for (index, record) in records.enumerated() {
            let name = "\(record.labels.source) \(record.labels.site)"
            if members[name] == nil { order.append(name) }
            members[name, default: []].append(index)
        }
        let positions = order.flatMap { members[$0]! }
        let loaded = try SampleSet.manifest(manifest.entries, source: catalog.source).load(positions)
        var groups: [(name: String, range: Range<Int>)] = [], start = 0
        for name in order {
            groups.append((name, start..<start + members[name]!.count))
            start += members[name]!.count
        }
        var notes: [String] = []
        if trainingPath.isEmpty {
            notes.append("no training manifest given (--training-manifest, or the run's dataset.manifest): not checked for overlap")
        } else {
            let training = try Manifest.load(trainingPath)
            let trainingRecords = try training.entries.compactMap { try catalog.record(id: $0.id) }
            let check = HeldOutCheck.check(evaluated: records, training: trainingRecords, margin: margin)
            if !check.trained.isEmpty {
                notes.append("\(check.trained.count) of these tiles are in the training manifest \(trainingPath) (first: \(check.trained[0])): "
                             + "their scores are not held-out")
            }
            if !check.nearTraining.isEmpty {
                notes.append("\(check.nearTraining.count) tiles lie within \(margin) px of a training tile of the same image "
                             + "(first: \(check.nearTraining[0])): they share crowns and light with the training set")
            }
            if !check.unplaced.isEmpty {
                notes.append("\(check.unplaced.count) tiles have no recorded position in their image, so were checked only for being trained on")
            }
            if check.trained.isEmpty && check.nearTraining.isEmpty {
                notes.append("none of these tiles is in \(trainingPath) or within \(margin) px of one of its tiles")
            }
        }
        return HeldOutTiles(tiles: loaded, groups: groups, notes: notes)
    }
}
