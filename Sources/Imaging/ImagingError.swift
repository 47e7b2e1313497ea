import Storage

/// Errors from encoding, decoding, reading and writing images. Each message is one line that names the
/// file (or `<memory>` for in-memory data) and, where libpng reported one, libpng's own message.
public enum ImagingError: Error, CustomStringConvertible, Equatable {
    /// The `PixelImage` handed to the encoder is inconsistent (bad channel count or pixel count).
    case invalidImage(destination: String, reason: String)
    /// libpng could not encode the image; `message` is `png_image.message`.
    case encodeFailed(destination: String, message: String)
    /// libpng could not read or decode the data; `message` is `png_image.message`.
    case decodeFailed(source: String, message: String)
    /// The PNG header declares an image too large to decode into memory.
    case imageTooLarge(source: String, width: Int, height: Int)
    /// Writing the file failed (e.g. the folder does not exist); the previous file, if any, is untouched.
    case file(FileError)

    public var description: String {
        switch self {
        case let .invalidImage(destination, reason):
            return "cannot encode PNG for \(destination): \(reason)"
        case let .encodeFailed(destination, message):
            return "cannot encode PNG for \(destination): libpng: \(message)"
        case let .decodeFailed(source, message):
            return "cannot decode PNG \(source): libpng: \(message)"
        case let .imageTooLarge(source, width, height):
            return "cannot decode PNG \(source): \(width)x\(height) is too large to hold in memory"
        case let .file(error):
            return error.description
        }
    }
}
