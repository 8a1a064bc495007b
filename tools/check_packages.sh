#!/usr/bin/env bash
# Packs EfficientNet.NET and uses the packages as a user would (run by .ci/run after the tests):
#   1. `dotnet pack -c Release -o artifacts` (the README's command) gives the library packages, the effnet
#      tool's pointer package and one tool package per platform, each under nuget.org's 250 MB limit;
#   2. the tool installs from artifacts/ into an empty tool path, and `effnet variants --json` runs;
#   3. samples/Packages/TrainFolder (EfficientNet.Training) trains a B0 on flowers12 for one epoch;
#   4. samples/Packages/Classify (EfficientNet only: no training package, no ScottPlot in its output)
#      classifies a flowers12 test image with that checkpoint, and agrees with the installed tool's predict;
#   5. an app that references EfficientNet without a libtorch package gets warning EFFNET001.
# Apps restore into a private package folder (the global one serves as a read-only fallback), so a
# package rebuilt with the same version is never mistaken for an older copy in the NuGet cache.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
flowers=$repo/../shared/data/flowers12
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
step() { echo "== check_packages: $*"; }
fail() { echo "check_packages: $*" >&2; exit 1; }

step "dotnet pack -c Release -o artifacts"
rm -rf artifacts
dotnet pack EfficientNet.slnx -c Release -o artifacts -v quiet -nologo
version=$(dotnet msbuild src/EfficientNet/EfficientNet.csproj -getProperty:Version)
for package in EfficientNet EfficientNet.Training EfficientNet.Serving effnet effnet.linux-x64 effnet.win-x64 effnet.osx-arm64; do
  file=artifacts/$package.$version.nupkg
  [ -f "$file" ] || fail "$file was not produced"
  size=$(stat -c %s "$file")
  [ "$size" -lt 262144000 ] || fail "$file is $size bytes, over nuget.org's 250 MB limit"
  printf '   %-45s %6d MB\n' "$(basename "$file")" $((size / 1048576))
done

step "dotnet tool install effnet from artifacts/ into an empty tool path"
dotnet tool install effnet --version "$version" --tool-path "$work/tools" --add-source artifacts
"$work/tools/effnet" variants --json > "$work/variants.json"
python3 - "$work/variants.json" <<'PY'
import json, sys
names = [v["name"] for v in json.load(open(sys.argv[1]))]
assert len(names) == 15 and names[0] == "b0", names
print(f"   effnet variants --json: {len(names)} variants")
PY

global_packages=$(dotnet nuget locals global-packages --list | sed 's/^global-packages: //')
app() {  # app NAME: builds samples/Packages/NAME against artifacts/ into $work/NAME
  dotnet build "samples/Packages/$1" -c Release -o "$work/$1" -nologo -v quiet \
    -p:EfficientNetVersion="$version" \
    -p:RestoreAdditionalProjectSources="$repo/artifacts" \
    -p:RestorePackagesPath="$work/packages" \
    -p:RestoreFallbackFolders="$global_packages"
}

step "samples/Packages/TrainFolder: one epoch of B0 at 64x64 on flowers12/train"
app TrainFolder
dotnet "$work/TrainFolder/TrainFolder.dll" "$flowers/train" "$work/run" 1 | tee "$work/train.txt"
weights=$(tail -n 1 "$work/train.txt")
[ -f "$weights" ] || fail "TrainFolder did not write $weights"

step "samples/Packages/Classify: an inference-only app"
app Classify
[ ! -e "$work/Classify/ScottPlot.dll" ] || fail "the inference-only app got ScottPlot.dll: EfficientNet must not depend on training packages"
[ ! -e "$work/Classify/EfficientNet.Training.dll" ] || fail "the inference-only app got EfficientNet.Training.dll"
image=$(ls "$flowers/test/sunflower/"*.jpg | head -n 1)
dotnet "$work/Classify/Classify.dll" "$weights" "$image" 5 | tee "$work/classify.txt"
"$work/tools/effnet" predict --weights "$weights" --image "$image" --top 5 --json > "$work/predict.json"
python3 - "$work/classify.txt" "$work/predict.json" <<'PY'
import json, sys
lines = open(sys.argv[1]).read().splitlines()[1:]
app = [(label, float(p)) for label, p in (line.split("\t") for line in lines)]
tool = [(p["label"], p["probability"]) for p in json.load(open(sys.argv[2]))]
assert len(app) == 5 and [l for l, _ in app] == [l for l, _ in tool], (app, tool)
assert all(abs(a - b) < 1e-5 for (_, a), (_, b) in zip(app, tool)), (app, tool)
print(f"   Classify and the installed effnet agree: top-1 {app[0][0]} ({app[0][1]:.4f})")
PY

step "an app with EfficientNet but no libtorch package gets EFFNET001"
mkdir -p "$work/nolibtorch"
cat > "$work/nolibtorch/NoLibTorch.csproj" <<XML
<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup><OutputType>Exe</OutputType><TargetFramework>net10.0</TargetFramework></PropertyGroup>
  <ItemGroup><PackageReference Include="EfficientNet" Version="$version" /></ItemGroup>
</Project>
XML
echo 'System.Console.WriteLine(typeof(EfficientNet.Inference.Classifier));' > "$work/nolibtorch/Program.cs"
dotnet build "$work/nolibtorch" -nologo \
  -p:RestoreAdditionalProjectSources="$repo/artifacts" -p:RestorePackagesPath="$work/packages" \
  -p:RestoreFallbackFolders="$global_packages" > "$work/nolibtorch.txt" || true
grep -q "warning EFFNET001" "$work/nolibtorch.txt" || { cat "$work/nolibtorch.txt"; fail "no EFFNET001 warning"; }
echo "   warning EFFNET001 given"
step "all package checks passed"
