import Foundation
#if canImport(Glibc)
import Glibc
#endif

extension FileError {
    /// The system's words for `errno` ("No such file or directory"), lower-cased as a reason in a sentence.
    public static func reason(errno code: Int32) -> String {
        let text = String(cString: strerror(code))
        return text.prefix(1).lowercased() + text.dropFirst()
    }

    /// A Foundation error in plain words: the POSIX cause when there is one ("permission denied"), never the
    /// NSError domain or code.
    public static func reason(of error: Error) -> String {
        if let file = error as? FileError { return file.description }
        let ns = error as NSError
        if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            return reason(errno: Int32(underlying.code))
        }
        if ns.domain == NSPOSIXErrorDomain { return reason(errno: Int32(ns.code)) }
        if ns.domain == NSCocoaErrorDomain {
            switch CocoaError.Code(rawValue: ns.code) {
            case .fileNoSuchFile, .fileReadNoSuchFile: return "no such file or folder"
            case .fileWriteNoPermission, .fileReadNoPermission: return "permission denied"
            case .fileWriteOutOfSpace: return "no space left on the device"
            case .fileWriteFileExists: return "a file of that name is in the way"
            case .fileWriteVolumeReadOnly: return "the file system is read-only"
            case .fileReadCorruptFile: return "the file is unreadable"
            default: break
            }
        }
        let text = "\(error)"
        return text.contains("Domain") ? "the operation failed" : text
    }

    /// Creates `path` and its missing parents; a failure names the path and the cause in plain words (a file
    /// in the way of a folder is said so).
    public static func createFolder(_ path: String) throws {
        let fm = FileManager.default
        var isFolder: ObjCBool = false
        if fm.fileExists(atPath: path, isDirectory: &isFolder) {
            if isFolder.boolValue { return }
            throw FileError.cannotCreate(path: path, reason: "a file of that name is in the way, not a folder")
        }
        // The first existing ancestor must be a folder.
        var ancestor = URL(fileURLWithPath: path).deletingLastPathComponent()
        while ancestor.path != "/" && !fm.fileExists(atPath: ancestor.path) { ancestor.deleteLastPathComponent() }
        if fm.fileExists(atPath: ancestor.path, isDirectory: &isFolder), !isFolder.boolValue {
            throw FileError.cannotCreate(path: path, reason: "\(ancestor.path) is a file, not a folder")
        }
        do {
            try fm.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw FileError.cannotCreate(path: path, reason: reason(of: error))
        }
    }
}
