import Checkpoint
import Config
import Foundation
import ObjectStore

extension RemoteCheckpoints {
    /// The remote copy `checkpoint.remote` names, with endpoint, region and credentials from the
    /// AWS environment (`AWSEnvironment`); nil when the setting is empty.
    ///
    /// - Throws: `ObjectStoreError` naming the setting or the variable that is wrong, before any
    ///   training starts.
    public static func configured(by config: ClusterConfig,
                                  environment: [String: String] = ProcessInfo.processInfo.environment) throws -> RemoteCheckpoints? {
        guard !config.checkpoint.remote.isEmpty else { return nil }
        let location = try ObjectLocation.parse(config.checkpoint.remote, origin: "checkpoint.remote")
        let aws = try AWSEnvironment.resolve(environment: environment)
        return RemoteCheckpoints(storage: S3Client(bucket: location.bucket, environment: aws), location: location,
                                 keep: config.checkpoint.keep, partSize: config.checkpoint.remotePartMiB << 20)
    }
}
