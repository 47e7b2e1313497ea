// swift-tools-version:6.0
// A Swift toolkit for training and evaluating VAE families on MNIST, on the CPU.
//
// Modules, each depending only on the ones above it (README.md, "Layout"):
//   C libraries (system targets COpenBLAS, CZlib, CPNG, CCairo, each imported by one Swift target)
//   LinearAlgebra (BLAS/LAPACK, threads) -> Autodiff (Tensor, ops, RNG) -> Layers, Optimizers
//   Storage (safetensors, PyTorch files, SHA-256, atomic files), Datasets (IDX, gzip, npy/npz, MNIST, download),
//   Imaging (PNG) and Plotting (Cairo; it captions Imaging's sheets) stand beside them
//   -> Models (the protocol, its capabilities, the families, the factory, checkpoints, run folders, feature networks)
//   -> Training (training loop, study sweep, classifier, code prior, import), Evaluation (metrics, samplers, results)
//   -> Reporting (the study notebook, plots, claims, CSV), Benchmarks (timings)
//   -> executables vae-train, vae-eval, vae-bench.
// Tests: one target per layer, TestSupport shared by them (temporary folders, tiny MNIST, process runner, tags).
import PackageDescription

let package = Package(
    name: "VAEToolkit",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "vae-train", targets: ["vae-train"]),
        .executable(name: "vae-eval", targets: ["vae-eval"]),
        .executable(name: "vae-bench", targets: ["vae-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // C libraries from Debian packages, each imported by exactly one Swift target.
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CPNG", pkgConfig: "libpng16", providers: [.apt(["libpng-dev"])]),
        .systemLibrary(name: "CCairo", pkgConfig: "cairo", providers: [.apt(["libcairo2-dev"])]),

        .target(name: "LinearAlgebra", dependencies: ["COpenBLAS"]),
        .target(name: "Autodiff", dependencies: ["LinearAlgebra"]),
        .target(name: "Layers", dependencies: ["Autodiff"]),
        .target(name: "Optimizers", dependencies: ["Autodiff"]),
        .target(name: "Storage"),
        .target(name: "Datasets", dependencies: ["CZlib", "Storage"]),
        .target(name: "Imaging", dependencies: ["CPNG", "Storage"]),
        .target(name: "Plotting", dependencies: ["CCairo", "Storage", "Imaging"]),
        .target(name: "Models", dependencies: ["Layers", "Storage", "LinearAlgebra"]),
        .target(name: "Training", dependencies: ["Models", "Optimizers", "Datasets"]),
        .target(name: "Evaluation", dependencies: ["Models", "Datasets", "Imaging", "Plotting", "LinearAlgebra"]),
        .target(name: "Benchmarks", dependencies: ["Training", "Evaluation"]),
        .target(name: "Reporting", dependencies: ["Training", "Evaluation", "Plotting"]),

        .executableTarget(name: "vae-train", dependencies: [
            "Training", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "vae-eval", dependencies: [
            "Evaluation", "Reporting", "Training", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        .executableTarget(name: "vae-bench", dependencies: [
            "Benchmarks", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        // Shared by the test targets: temporary folders, tiny MNIST files, the process runner, the `slow` tag.
        .target(name: "TestSupport", dependencies: ["Datasets", "Autodiff", "Models", "Training"], path: "Tests/TestSupport"),

        .testTarget(name: "LinearAlgebraTests", dependencies: ["LinearAlgebra", "TestSupport"]),
        .testTarget(name: "AutodiffTests", dependencies: ["Autodiff", "Layers", "Optimizers", "TestSupport"]),
        .testTarget(name: "StorageTests", dependencies: ["Storage", "TestSupport"], exclude: ["Python"]),
        .testTarget(name: "DatasetsTests", dependencies: ["Datasets", "Storage", "TestSupport"]),
        .testTarget(name: "ImagingTests", dependencies: ["Imaging", "Plotting", "TestSupport"], exclude: ["Python"]),
        .testTarget(name: "ModelsTests", dependencies: ["Models", "Training", "Evaluation", "Datasets", "Imaging", "Plotting", "Storage", "LinearAlgebra", "TestSupport"],
                    exclude: ["Python"]),
        .testTarget(name: "TrainingTests", dependencies: ["Training", "Models", "Datasets", "Storage", "Autodiff", "TestSupport"]),
        .testTarget(name: "EvaluationTests", dependencies: ["Evaluation", "Models", "Datasets", "Imaging", "Plotting", "Storage", "LinearAlgebra",
                                                            "Autodiff", "Optimizers", "TestSupport"], exclude: ["Python"]),
        .testTarget(name: "ReportingTests", dependencies: ["Reporting", "Evaluation", "Training", "Models", "Plotting", "TestSupport"]),
        .testTarget(name: "BenchmarksTests", dependencies: ["Benchmarks", "Training", "Evaluation", "Datasets", "TestSupport"]),
        .testTarget(name: "EndToEndTests", dependencies: ["Datasets", "Storage", "Imaging", "TestSupport"]),
    ],
    swiftLanguageModes: [.v5]
)
