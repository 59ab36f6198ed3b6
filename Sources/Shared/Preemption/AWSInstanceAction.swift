import Foundation

/// The body of `spot/instance-action`.
struct AWSInstanceAction: Decodable {
    var action: String
    var timeText: String
    var time: Date

    enum CodingKeys: String, CodingKey { case action, time }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        action = try container.decode(String.self, forKey: .action)
        timeText = try container.decode(String.self, forKey: .time)
        guard let time = CloudTime.iso8601(timeText) else {
            throw DecodingError.dataCorruptedError(forKey: .time, in: container, debugDescription: "'\(timeText)' is not an ISO 8601 time")
        }
        self.time = time
    }

    static func parse(_ body: [UInt8], origin: String) throws(PreemptionError) -> AWSInstanceAction {
        do {
            return try JSONDecoder().decode(AWSInstanceAction.self, from: Data(body))
        } catch {
            throw PreemptionError(code: "preempt.malformed",
                                  "\(origin) returned '\(String(decoding: body.prefix(120), as: UTF8.self))', not {\"action\", \"time\"}: \(error)")
        }
    }
}
