import Config
import Foundation

/// `cluster.yaml` (`ClusterConfig.parse`, Config/): the YAML reader, every key's decoder and the
/// validation. A worker parses the coordinator's configuration from the wire (`runConfig`), so
/// this text comes from outside as much as a file does.
///
/// Oracle: a configuration that loads renders to YAML that loads to the same configuration
/// (compared by its canonical text, which covers every setting).
let clusterYAMLTarget = FuzzTarget(
    name: "cluster-yaml",
    summary: "cluster.yaml (Sources/Shared/Config)",
    run: { data in
        let text = String(decoding: data, as: UTF8.self)
        guard let config = try? ClusterConfig.parse(yaml: text, source: "fuzz") else { return }
        let rendered = config.rendered()
        let again: ClusterConfig
        do { again = try ClusterConfig.parse(yaml: rendered, source: "rendered") } catch {
            finding("a loaded configuration does not load after rendering: \(error)")
        }
        guard again.canonicalText == config.canonicalText else { finding("a configuration changes when rendered and loaded again") }
    },
    seeds: {
        var seeds: [(name: String, bytes: [UInt8])] = [
            (name: "defaults-rendered", bytes: Array(ClusterConfig().rendered().utf8)),
            (name: "small", bytes: Array("run:\n  name: canopy\nworkers:\n  local: 2\ntraining:\n  steps: 20\n".utf8)),
        ]
        // The repository's own cluster.yaml, when the seeds are written from a checkout.
        if let text = try? String(contentsOfFile: "cluster.yaml", encoding: .utf8) {
            seeds.append((name: "repository", bytes: Array(text.utf8)))
        }
        return seeds
    }
)
