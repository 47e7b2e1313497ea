import Foundation

/// pytorch-fid's Inception-v3 weights, `pt_inception-2015-12-05-6726825d.pth` (release `fid_weights` of
/// mseitzer/pytorch-fid): where they are cached, how they are found, and how they are downloaded.
///
/// The name ends with the first 8 hex digits of the file's SHA-256 (torch hub's convention), which the download
/// checks. The file is a PyTorch state dict; Storage's `StateDict.read(contentsOf:)` reads it.
public enum InceptionWeights {
    /// The published file name.
    public static let fileName = "pt_inception-2015-12-05-6726825d.pth"
    /// The start of the published file's SHA-256.
    public static let sha256Prefix = "6726825d"
    /// The release folder the file is published in (`fileName` is appended).
    public static let defaultMirror = "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/"

    /// The toolkit's cache folder: `$XDG_CACHE_HOME/vae-toolkit` when that variable holds an absolute path,
    /// else `$HOME/.cache/vae-toolkit`.
    public static func cacheFolder(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let cache = environment["XDG_CACHE_HOME"], cache.hasPrefix("/") { return cache + "/vae-toolkit" }
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        return home + "/.cache/vae-toolkit"
    }

    /// The weights file to use: `explicit` if given (it must exist), else `fileName` in `cacheFolder`.
    ///
    /// - Throws: ``InceptionWeightsError`` saying in one line how to get the file.
    public static func locate(explicit: String? = nil, cacheFolder: String = InceptionWeights.cacheFolder()) throws -> String {
        if let explicit {
            guard isFile(explicit) else { throw InceptionWeightsError.notAtPath(path: explicit) }
            return explicit
        }
        let cached = cacheFolder + "/" + fileName
        guard isFile(cached) else { throw InceptionWeightsError.notInCache(folder: cacheFolder) }
        return cached
    }

    /// Downloads the weights into `directory` (created if needed) unless a file with the right SHA-256 prefix is
    /// already there; the file appears under its final name only complete and verified.
    ///
    /// - Parameters:
    ///   - mirror: the folder URL the file is fetched from (`http`, `https`, `file` or a local path).
    ///   - fileName, sha256Prefix: what to fetch and the digest prefix it must have (the published ones by default).
    /// - Returns: the path of the verified file.
    /// - Throws: `DatasetError.noMirrorSucceeded` (nothing written) or `DatasetError.cannotWrite`.
    @discardableResult
    public static func download(into directory: String = InceptionWeights.cacheFolder(),
                                mirror: String = InceptionWeights.defaultMirror,
                                fileName: String = InceptionWeights.fileName, sha256Prefix: String = InceptionWeights.sha256Prefix,
                                requestTimeout: TimeInterval = 60, progress: (String) -> Void = { _ in }) throws -> String {
        let downloader = MNISTDownloader(mirrors: [mirror], expectedChecksums: [fileName: sha256Prefix.lowercased()],
                                         requestTimeout: requestTimeout)
        try downloader.download(into: directory, progress: progress)
        return MNIST.join(directory, fileName)
    }

    private static func isFile(_ path: String) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && !isDirectory.boolValue
    }
}

/// The Inception weights are not where they were looked for. Each `description` is one line saying how to get them.
public enum InceptionWeightsError: Error, CustomStringConvertible, Equatable, Sendable {
    /// An explicitly given weights file does not exist.
    case notAtPath(path: String)
    /// No explicit path was given and the cache folder does not hold the file.
    case notInCache(folder: String)

    public var description: String {
        switch self {
        case let .notAtPath(path):
            return "no Inception weights file at \(path); pass the path of \(InceptionWeights.fileName), or run `vae-train download --inception` to fetch it into \(InceptionWeights.cacheFolder())"
        case let .notInCache(folder):
            return "the Inception weights \(InceptionWeights.fileName) are not in \(folder); run `vae-train download --inception`, or download \(InceptionWeights.defaultMirror)\(InceptionWeights.fileName) yourself and put it in that folder"
        }
    }
}
