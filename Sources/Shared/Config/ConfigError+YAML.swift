import Foundation
import Yams

extension ConfigError {
    /// Translates a Yams parse failure into a message with the line of the problem.
    init(yamlError error: any Error, source: String, text: String) {
        guard let yamlError = error as? YamlError else {
            self.init(.syntax, keyPath: "", origin: .file(name: source, line: 0, column: 0),
                      expected: "valid YAML", found: "\(error)")
            return
        }
        switch yamlError {
        case let .scanner(context, problem, mark, _),
             let .parser(context, problem, mark, _),
             let .composer(context, problem, mark, _):
            var detail = problem
            if let context, !context.text.isEmpty {
                let started = context.mark.line == mark.line ? "" : " started at line \(context.mark.line)"
                detail = "\(context.text)\(started): \(problem)"
            }
            self.init(.syntax, keyPath: "", origin: .file(name: source, line: mark.line, column: mark.column),
                      expected: "valid YAML", found: "a syntax error (\(detail))")
        case let .reader(problem, offset, _, _):
            let line = offset.map { text.utf8.prefix($0).filter { $0 == UInt8(ascii: "\n") }.count + 1 } ?? 0
            self.init(.syntax, keyPath: "", origin: .file(name: source, line: line, column: 0),
                      expected: "readable YAML text", found: "\(problem)")
        case let .duplicatedKeysInMapping(duplicates, context):
            let key = duplicates.first ?? "?"
            let place = DuplicateKeyLocator(text: text, key: key, firstLine: context.mark.line)
            self.init(.duplicateKey, keyPath: place.keyPath,
                      origin: .file(name: source, line: place.repeatLine ?? context.mark.line, column: 0),
                      expected: "each key once per mapping",
                      found: "a second `\(key)` (first at line \(context.mark.line))")
        default:
            self.init(.syntax, keyPath: "", origin: .file(name: source, line: 0, column: 0),
                      expected: "valid YAML", found: "\(yamlError)")
        }
    }
}

/// Recovers, from the text, where a duplicated key is repeated and which section holds it.
///
/// Yams reports only the first occurrence of a duplicated key. For the block-style YAML that
/// `cluster.yaml` uses, indentation says the rest: the section is the nearest line above with less
/// indentation, and the repeat is the next line below at the same indentation with the same key.
/// Flow-style input simply gets the bare key and the first line.
struct DuplicateKeyLocator {
    var keyPath: String
    var repeatLine: Int?

    init(text: String, key: String, firstLine: Int) {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        keyPath = key
        guard firstLine >= 1, firstLine <= lines.count else { return }
        let indent = Self.indentation(lines[firstLine - 1])

        var parents: [String] = []
        var level = indent
        for line in lines[..<(firstLine - 1)].reversed() {
            guard let name = Self.key(of: line), Self.indentation(line) < level else { continue }
            parents.insert(name, at: 0)
            level = Self.indentation(line)
            if level == 0 { break }
        }
        keyPath = (parents + [key]).joined(separator: ".")

        for index in firstLine..<lines.count {
            let line = lines[index]
            guard let name = Self.key(of: line) else { continue }
            let lineIndent = Self.indentation(line)
            if lineIndent < indent { break }
            if lineIndent == indent && name == key {
                repeatLine = index + 1
                break
            }
        }
    }

    private static func indentation(_ line: String) -> Int {
        line.prefix { $0 == " " }.count
    }

    /// The key a block-mapping line starts, or nil for blank, comment and other lines.
    private static func key(of line: String) -> String? {
        let trimmed = line.drop { $0 == " " }
        guard !trimmed.isEmpty, trimmed.first != "#", let colon = trimmed.firstIndex(of: ":") else { return nil }
        let name = trimmed[..<colon].trimmingCharacters(in: .whitespaces)
        return name.isEmpty ? nil : name.trimmingCharacters(in: CharacterSet(charactersIn: "\"'"))
    }
}
