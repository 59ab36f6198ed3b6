import Yams

/// Why a YAML node could not become a field's value.
struct DecodeMismatch: Error {
    var kind: ConfigError.Kind
}

extension ConfigField {
    /// Reads a node as this field's type, strictly: a float is not an integer, a quoted `"20"` is
    /// a string, and a bare `yes` is a boolean (YAML 1.1), never the text "yes".
    ///
    /// Only the type is checked here; ranges are checked by validation, after overrides.
    func decode(_ node: Node) throws(DecodeMismatch) -> Value {
        guard case let .scalar(scalar) = node else { throw DecodeMismatch(kind: .wrongType) }
        let tag = node.tagName
        switch kind {
        case .integer:
            guard tag == .int else { throw DecodeMismatch(kind: .wrongType) }
            guard let value = Int.construct(from: scalar) else { throw DecodeMismatch(kind: .outOfRange) }
            return .integer(value)
        case .unsigned:
            guard tag == .int else { throw DecodeMismatch(kind: .wrongType) }
            guard let value = UInt64.construct(from: scalar) else { throw DecodeMismatch(kind: .outOfRange) }
            return .unsigned(value)
        case .number:
            guard tag == .int || tag == .float, let value = Double.construct(from: scalar) else {
                throw DecodeMismatch(kind: .wrongType)
            }
            return .number(value)
        case .text, .name, .host, .advertise, .choice, .objectLocation, .choiceOrLocation:
            // Numbers are accepted as their literal text (a run named 2024); booleans and nulls
            // are not, because `name: no` almost never means the two letters.
            guard tag == .str || tag == .int || tag == .float else { throw DecodeMismatch(kind: .wrongType) }
            return .text(scalar.string)
        case .flag:
            guard tag == .bool, let value = Bool.construct(from: scalar) else {
                throw DecodeMismatch(kind: .wrongType)
            }
            return .flag(value)
        }
    }
}

extension Node {
    /// The resolved YAML type (`tag:yaml.org,2002:int`...): plain scalars by their form, quoted
    /// scalars always strings.
    var tagName: Tag.Name { Tag.Name(rawValue: tag.rawValue) }

    /// What a node is, for the "found ..." part of an error message.
    var foundDescription: String {
        switch self {
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .alias: return "an alias"
        case let .scalar(scalar):
            switch tagName {
            case .null: return "no value (null)"
            case .bool: return "\(scalar.string) (a boolean)"
            case .int: return "\(scalar.string) (an integer)"
            case .float: return "\(scalar.string) (a float)"
            default: return "\(quoted(scalar.string)) (a string)"
            }
        }
    }
}

/// A string in double quotes with quotes, backslashes and control characters escaped, which is
/// both readable in a message and valid YAML.
func quoted(_ string: String) -> String {
    var out = "\""
    for scalar in string.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\t": out += "\\t"
        case "\r": out += "\\r"
        default:
            if scalar.value < 0x20 || scalar.value == 0x7F {
                out += "\\x" + (scalar.value < 16 ? "0" : "") + String(scalar.value, radix: 16)
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
    }
    return out + "\""
}
