extension Endpoint {
    /// The longest endpoint a peer may advertise, in bytes.
    public static let advertisedLengthLimit = 512

    /// Parses an endpoint a peer advertises for others to dial (a worker's ring endpoint), before
    /// any peer dials it: `parse`'s rules, and also a bound on its length (it arrives in a message,
    /// and is measured before it is parsed), a host a peer can reach (not `*`, `0.0.0.0` or `::`),
    /// and a port other than 0. A member whose endpoint does not parse is refused at join, so that
    /// its neighbours never fail dialling it.
    public static func parseAdvertised(_ text: String, origin: String) throws(EndpointError) -> Endpoint {
        func refuse(_ problem: String) -> EndpointError { EndpointError(value: text, origin: origin, problem: problem) }
        guard text.utf8.count <= advertisedLengthLimit else { throw refuse("is longer than \(advertisedLengthLimit) bytes") }
        let endpoint = try parse(text, origin: origin)
        if ["*", "0.0.0.0", "::"].contains(endpoint.host) {
            throw refuse("names no host a peer can reach (\(endpoint.host))")
        }
        guard endpoint.port != 0 else { throw refuse("has the port 0, which a peer cannot dial") }
        return endpoint
    }
}
