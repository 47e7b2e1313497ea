import Foundation

/// The toolkit's version and the files it ships (the feature network, the study file), found wherever the
/// commands run from.
///
/// Layouts, searched in this order for an asset `NAME` (e.g. `study.json`, `feature-network/lenet-mnist.safetensors`):
///  1. installed: `<prefix>/share/vae-toolkit/NAME` beside `<prefix>/bin/<command>` (`scripts/install --prefix`);
///  2. the checkout holding the current folder: `<repo>/fixtures/NAME`;
///  3. the checkout the running executable was built in (`<repo>/.build/...`): `<repo>/fixtures/NAME`, which
///     follows the tree when it is moved.
public enum ToolkitAssets {
    /// The toolkit's version, printed by `--version`.
    public static let version = "0.9.0"
    /// Folder of the assets under an install prefix.
    public static let installedFolder = "share/vae-toolkit"
    /// Folder of the assets in the repository.
    public static let repositoryFolder = "fixtures"

    /// The folder of the running executable (symbolic links resolved).
    public static var executableFolder: String? {
        let path = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments.first
        guard let path, !path.isEmpty else { return nil }
        return URL(fileURLWithPath: path).resolvingSymlinksInPath().deletingLastPathComponent().path
    }

    /// Every place `name` is looked for, in order (see the type's comment).
    public static func candidates(_ name: String, currentDirectory: String = FileManager.default.currentDirectoryPath,
                                  executableFolder: String? = ToolkitAssets.executableFolder) -> [String] {
        var paths: [String] = []
        if let bin = executableFolder {
            paths.append(URL(fileURLWithPath: bin).deletingLastPathComponent().path + "/" + installedFolder + "/" + name)
        }
        if let root = ProjectFolder.root(from: currentDirectory) { paths.append(root + "/" + repositoryFolder + "/" + name) }
        if let bin = executableFolder, let root = ProjectFolder.root(from: bin) {
            paths.append(root + "/" + repositoryFolder + "/" + name)
        }
        var seen = Set<String>()
        return paths.filter { seen.insert($0).inserted }
    }

    /// The first existing candidate for `name`, or nil and the places searched.
    public static func locate(_ name: String, currentDirectory: String = FileManager.default.currentDirectoryPath,
                              executableFolder: String? = ToolkitAssets.executableFolder) -> (path: String?, searched: [String]) {
        let paths = candidates(name, currentDirectory: currentDirectory, executableFolder: executableFolder)
        return (paths.first { FileManager.default.fileExists(atPath: $0) }, paths)
    }
}
