import Foundation

/// The Scheduled Events document, only the fields Grove reads.
struct AzureScheduledEvents: Decodable {
    struct Event: Decodable {
        var eventID: String
        var eventType: String
        var eventStatus: String?
        var resources: [String]
        var notBefore: String

        enum CodingKeys: String, CodingKey {
            case eventID = "EventId", eventType = "EventType", eventStatus = "EventStatus"
            case resources = "Resources", notBefore = "NotBefore"
        }

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            eventID = try c.decode(String.self, forKey: .eventID)
            eventType = try c.decode(String.self, forKey: .eventType)
            eventStatus = try c.decodeIfPresent(String.self, forKey: .eventStatus)
            resources = try c.decodeIfPresent([String].self, forKey: .resources) ?? []
            notBefore = try c.decodeIfPresent(String.self, forKey: .notBefore) ?? ""
        }
    }

    var incarnation: Int
    var events: [Event]

    enum CodingKeys: String, CodingKey { case incarnation = "DocumentIncarnation", events = "Events" }

    static func parse(_ body: [UInt8], origin: String) throws(PreemptionError) -> AzureScheduledEvents {
        do {
            return try JSONDecoder().decode(AzureScheduledEvents.self, from: Data(body))
        } catch {
            throw PreemptionError(code: "preempt.malformed",
                                  "\(origin) returned '\(String(decoding: body.prefix(120), as: UTF8.self))', not a Scheduled Events document: \(error)")
        }
    }
}
