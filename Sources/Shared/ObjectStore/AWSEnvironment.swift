import Foundation

/// Endpoint, region and credentials as the AWS command line and SDKs find them, for one S3 client.
///
/// Order, first found wins:
/// - credentials: `AWS_ACCESS_KEY_ID` + `AWS_SECRET_ACCESS_KEY` (+ `AWS_SESSION_TOKEN`); else the
///   profile `AWS_PROFILE` (default `default`) of the credentials file (`AWS_SHARED_CREDENTIALS_FILE`,
///   default `~/.aws/credentials`), then of the config file (`AWS_CONFIG_FILE`, default
///   `~/.aws/config`, sections `[default]` and `[profile NAME]`).
/// - region: `AWS_REGION`, `AWS_DEFAULT_REGION`, the profile's `region`, else `us-east-1`.
/// - endpoint: `AWS_ENDPOINT_URL_S3`, `AWS_ENDPOINT_URL`, the profile's `endpoint_url`, else
///   `https://s3.REGION.amazonaws.com`. A custom endpoint is addressed path-style
///   (`ENDPOINT/BUCKET/KEY`), as MinIO, Ceph and moto expect; AWS's own virtual-hosted style.
///
/// Instance-profile, SSO and `credential_process` credentials are not read.
public struct AWSEnvironment: Sendable {
    public var credentials: AWSCredentials
    public var region: String
    public var endpoint: URL
    public var pathStyle: Bool

    public init(credentials: AWSCredentials, region: String, endpoint: URL, pathStyle: Bool) {
        self.credentials = credentials
        self.region = region
        self.endpoint = endpoint
        self.pathStyle = pathStyle
    }

    /// Resolves everything from `environment` and the files it points to.
    ///
    /// - Parameter home: the directory `~` stands for (the `HOME` variable by default).
    /// - Throws: `ObjectStoreError` `.credentials` saying where it looked, or `.badLocation` for an
    ///   endpoint that is not an http(s) URL (naming the variable it came from).
    public static func resolve(environment: [String: String] = ProcessInfo.processInfo.environment) throws(ObjectStoreError) -> AWSEnvironment {
        let home = environment["HOME"] ?? NSHomeDirectory()
        let profileName = nonEmpty(environment["AWS_PROFILE"]) ?? "default"
        let credentialsPath = nonEmpty(environment["AWS_SHARED_CREDENTIALS_FILE"]) ?? home + "/.aws/credentials"
        let configPath = nonEmpty(environment["AWS_CONFIG_FILE"]) ?? home + "/.aws/config"
        let credentialsFile = try readINI(credentialsPath)
        let configFile = try readINI(configPath)
        let fromCredentials = credentialsFile?[profileName] ?? [:]
        let fromConfig = configFile?[profileName == "default" ? "default" : "profile " + profileName] ?? [:]

        let credentials: AWSCredentials
        if let key = nonEmpty(environment["AWS_ACCESS_KEY_ID"]) {
            guard let secret = nonEmpty(environment["AWS_SECRET_ACCESS_KEY"]) else {
                throw ObjectStoreError(.credentials, "AWS_ACCESS_KEY_ID is set (\(key)) but AWS_SECRET_ACCESS_KEY is not")
            }
            credentials = AWSCredentials(accessKeyID: key, secretAccessKey: secret,
                                         sessionToken: nonEmpty(environment["AWS_SESSION_TOKEN"]), source: "the environment")
        } else if let found = profileCredentials(fromCredentials, source: "\(credentialsPath) [\(profileName)]") {
            credentials = try found.get()
        } else if let found = profileCredentials(fromConfig, source: "\(configPath) [profile \(profileName)]") {
            credentials = try found.get()
        } else {
            let profileNote = environment["AWS_PROFILE"] == nil ? "" : " (AWS_PROFILE=\(profileName))"
            throw ObjectStoreError(.credentials,
                "no S3 credentials: AWS_ACCESS_KEY_ID is not set and neither \(credentialsPath) nor \(configPath) "
                + "has aws_access_key_id in profile \(profileName)\(profileNote)")
        }

        let region = nonEmpty(environment["AWS_REGION"]) ?? nonEmpty(environment["AWS_DEFAULT_REGION"])
            ?? nonEmpty(fromConfig["region"]) ?? "us-east-1"
        let custom: (text: String, origin: String)? =
            nonEmpty(environment["AWS_ENDPOINT_URL_S3"]).map { ($0, "AWS_ENDPOINT_URL_S3") }
            ?? nonEmpty(environment["AWS_ENDPOINT_URL"]).map { ($0, "AWS_ENDPOINT_URL") }
            ?? nonEmpty(fromConfig["endpoint_url"]).map { ($0, "endpoint_url in \(configPath) [profile \(profileName)]") }
        if let custom {
            return AWSEnvironment(credentials: credentials, region: region, endpoint: try endpointURL(custom.text, origin: custom.origin),
                                  pathStyle: true)
        }
        return AWSEnvironment(credentials: credentials, region: region,
                              endpoint: URL(string: "https://s3.\(region).amazonaws.com")!, pathStyle: false)
    }

    /// An `http://` or `https://` URL with a host and nothing after the port but `/`.
    static func endpointURL(_ text: String, origin: String) throws(ObjectStoreError) -> URL {
        let trimmed = text.hasSuffix("/") ? String(text.dropLast()) : text
        guard let url = URL(string: trimmed), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
              let host = url.host, !host.isEmpty, url.path.isEmpty || url.path == "/", url.query == nil else {
            throw ObjectStoreError(.badLocation, "\(origin): \"\(text)\" is not an endpoint URL (expected http://HOST[:PORT] or https://HOST[:PORT])")
        }
        return url
    }

    private static func profileCredentials(_ section: [String: String], source: String) -> Result<AWSCredentials, ObjectStoreError>? {
        guard let key = nonEmpty(section["aws_access_key_id"]) else { return nil }
        guard let secret = nonEmpty(section["aws_secret_access_key"]) else {
            return .failure(ObjectStoreError(.credentials, "\(source) has aws_access_key_id \(key) but no aws_secret_access_key"))
        }
        return .success(AWSCredentials(accessKeyID: key, secretAccessKey: secret,
                                       sessionToken: nonEmpty(section["aws_session_token"]), source: source))
    }

    private static func nonEmpty(_ value: String?) -> String? {
        guard let value = value?.trimmingCharacters(in: .whitespaces), !value.isEmpty else { return nil }
        return value
    }

    /// The sections of an INI file as the AWS tools write it (`[name]`, `key = value`, `#` and `;`
    /// comments); nil when the file does not exist.
    static func readINI(_ path: String) throws(ObjectStoreError) -> [String: [String: String]]? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw ObjectStoreError(.credentials, "cannot read \(path) as UTF-8 text")
        }
        return parseINI(text)
    }

    static func parseINI(_ text: String) -> [String: [String: String]] {
        var sections: [String: [String: String]] = [:]
        var current: String?
        for raw in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("[") && line.hasSuffix("]") {
                let name = line.dropFirst().dropLast().split(whereSeparator: \.isWhitespace).joined(separator: " ")
                current = name
                if sections[name] == nil { sections[name] = [:] }
                continue
            }
            guard let current, let equals = line.firstIndex(of: "=") else { continue }
            let key = line[..<equals].trimmingCharacters(in: .whitespaces).lowercased()
            let value = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            sections[current]?[key] = value
        }
        return sections
    }
}
