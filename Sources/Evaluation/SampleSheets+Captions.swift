import Autodiff
import Imaging
import Models
import Plotting

/// The sheets with captions drawn in (`CaptionedSheet`): the same grids as the uncaptioned functions, plus a title
/// naming the run and what is shown, and labels saying what each row (and the end columns) hold.
extension SampleSheets {
    /// Captions of a samples sheet: the run and the sampler in the title.
    public static func samplesCaptions(run: String, sampler: String, count: Int) -> SheetCaptions {
        SheetCaptions(title: [run, "\(count) samples, \(sampler) sampler"])
    }

    /// Captions of `reconstructions`: rows alternate originals (test images, numbered) and their reconstructions.
    public static func reconstructionCaptions(run: String, pairs: Int, columns: Int) -> SheetCaptions {
        SheetCaptions(title: [run, "test images and their reconstructions decode(encode(x))"],
                      rowLabels: (0..<pairs).flatMap { r in
                          ["originals \(r * columns)-\(r * columns + columns - 1)", "reconstructions"]
                      })
    }

    /// Captions of `interpolations`: row r goes from test image 2r (column t = 0) to test image 2r + 1 (t = 1).
    public static func interpolationCaptions(run: String, rows: Int, steps: Int) -> SheetCaptions {
        SheetCaptions(title: [run, "decode((1 - t) encode(a) + t encode(b)), t = 0 ... 1"],
                      rowLabels: (0..<rows).map { "a = test \(2 * $0), b = test \(2 * $0 + 1)" },
                      columnLabels: [.init(column: 0, text: "a"), .init(column: steps - 1, text: "b")])
    }

    /// Captions of `traversals`: row d sets latent dimension d to -range ... +range, the other dimensions at the image's code.
    public static func traversalCaptions(run: String, dimensions rows: Int, steps: Int, range: Float) -> SheetCaptions {
        let r = range == range.rounded() ? "\(Int(range))" : "\(range)"
        return SheetCaptions(title: [run, "latent traversals around the code of test image 0"],
                             rowLabels: (0..<rows).map { "z\($0) from -\(r) to +\(r)" },
                             columnLabels: [.init(column: 0, text: "-\(r)"), .init(column: steps / 2, text: steps % 2 == 1 ? "0" : ""),
                                            .init(column: steps - 1, text: "+\(r)")].filter { !$0.text.isEmpty })
    }

    /// `samples` with `samplesCaptions` (the model's own prior).
    public static func captionedSamples(_ model: any GenerativeModel, run: String, rows: Int = 8, scale: Int = 1,
                                        generator: inout SeededGenerator) throws -> PixelImage {
        try CaptionedSheet.render(samples(model, rows: rows, scale: scale, generator: &generator),
                                  grid: grid(rows: rows, columns: rows, scale: scale),
                                  captions: samplesCaptions(run: run, sampler: "prior", count: rows * rows))
    }

    /// `reconstructions` with `reconstructionCaptions`.
    public static func captionedReconstructions(_ model: any GenerativeModel, run: String, images: Tensor, pairs: Int = 4,
                                                columns: Int = 8, scale: Int = 1) throws -> PixelImage {
        try CaptionedSheet.render(reconstructions(model, images: images, pairs: pairs, columns: columns, scale: scale),
                                  grid: grid(rows: 2 * pairs, columns: columns, scale: scale),
                                  captions: reconstructionCaptions(run: run, pairs: pairs, columns: columns))
    }

    /// `interpolations` with `interpolationCaptions`.
    public static func captionedInterpolations(_ model: any GenerativeModel, run: String, images: Tensor, rows: Int = 8,
                                               steps: Int = 10, scale: Int = 1) throws -> PixelImage {
        try CaptionedSheet.render(interpolations(model, images: images, rows: rows, steps: steps, scale: scale),
                                  grid: grid(rows: rows, columns: steps, scale: scale),
                                  captions: interpolationCaptions(run: run, rows: rows, steps: steps))
    }

    /// `traversals` with `traversalCaptions` (one row per dimension shown: the first min(dimensions, code size)).
    public static func captionedTraversals(_ model: any GenerativeModel, run: String, image: Tensor, dimensions: Int = 10,
                                           steps: Int = 11, range: Float = 3, scale: Int = 1) throws -> PixelImage {
        let rows = min(dimensions, model.encode(image).count)
        return try CaptionedSheet.render(traversals(model, image: image, dimensions: dimensions, steps: steps, range: range, scale: scale),
                                         grid: grid(rows: rows, columns: steps, scale: scale),
                                         captions: traversalCaptions(run: run, dimensions: rows, steps: steps, range: range))
    }
}
