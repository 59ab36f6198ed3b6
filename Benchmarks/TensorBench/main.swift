let shapes = [GemmShape(name: "square 512", m: 512, n: 512, k: 512),
              GemmShape(name: "conv 16x(144)x4096", m: 16, n: 4096, k: 144)]
for s in shapes {
    let r = GemmBenchmark.run(s, repeats: 5)
    print(s.name, r)
}
