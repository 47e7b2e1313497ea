import Datasets
import Models

/// Why a test set cannot evaluate a model; one line each.
public enum TestSetError: Error, CustomStringConvertible, Equatable {
    case empty
    case imageSizeMismatch(rows: Int, columns: Int, modelPixels: Int, run: String)

    public var description: String {
        switch self {
        case .empty:
            return "cannot evaluate: the test set holds no images (check --data)"
        case let .imageSizeMismatch(rows, columns, modelPixels, run):
            return "cannot evaluate \(run): the test images are \(rows)x\(columns) pixels, the model needs \(modelPixels) pixels per image (check --data)"
        }
    }
}

extension RunEvaluation {
    /// Throws unless `testSet` is non-empty and its images have the model's size (the metrics would otherwise
    /// divide by zero or index out of range).
    public static func checkTestSet(_ testSet: MNISTSplit, for model: any GenerativeModel, run: String) throws {
        guard testSet.count > 0 else { throw TestSetError.empty }
        guard testSet.pixelsPerImage == model.configuration.imageSize else {
            throw TestSetError.imageSizeMismatch(rows: testSet.rows, columns: testSet.columns,
                                                 modelPixels: model.configuration.imageSize, run: run)
        }
    }
}
