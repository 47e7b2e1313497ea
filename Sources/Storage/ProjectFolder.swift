import Foundation

/// Locates the project's checkout: the nearest folder at or above a starting point that holds
/// `Package.swift`. Used to find default paths (data/mnist, fixtures/) wherever a command is run from
/// inside the repo.
public enum ProjectFolder {
    public static func root(from startingFolder: String = FileManager.default.currentDirectoryPath) -> String? {
        var folder = URL(fileURLWithPath: startingFolder).standardizedFileURL
        for _ in 0..<256 {  // bounded walk to the file-system root
            if FileManager.default.fileExists(atPath: folder.appendingPathComponent("Package.swift").path) {
                return folder.path
            }
            let parent = folder.deletingLastPathComponent().standardizedFileURL
            if parent.path == folder.path { return nil }
            folder = parent
        }
        return nil
    }
}
