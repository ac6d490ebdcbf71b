#include "mda/train/checkpoint.h"

#include "mda/io/json.h"
#include "mda/util/error.h"
#include "mda/util/fs.h"
#include "mda/util/strings.h"

namespace mda {

void save_checkpoint(const std::string& path, MdaNetImpl& net, torch::optim::Adam& optimizer,
                     const Checkpoint& state) {
  torch::serialize::OutputArchive archive, model, optim;
  net.save(model);
  optimizer.save(optim);
  archive.write("model", model);
  archive.write("optimizer", optim);
  Value meta = Value::empty_dict();
  meta.set("format", Value("mda-training-checkpoint"));
  meta.set("epochs_done", Value(state.epochs_done));
  meta.set("best_validation_map", Value(state.best_map));
  meta.set("history", state.history);
  archive.write("meta", c10::IValue(to_json(meta, -1)));
  write_file_atomic(path, [&](std::ostream& stream) { archive.save_to(stream); });
}

Checkpoint load_checkpoint(const std::string& path, MdaNetImpl& net, torch::optim::Adam& optimizer,
                           const torch::Device& device) {
  if (!file_exists(path)) fail("--resume: no checkpoint at ", path);
  Checkpoint state;
  try {
    torch::serialize::InputArchive archive, model, optim;
    archive.load_from(path, device);
    archive.read("model", model);
    archive.read("optimizer", optim);
    net.load(model);
    optimizer.load(optim);
    c10::IValue meta_text;
    archive.read("meta", meta_text);
    const Value meta = parse_json(meta_text.toStringRef(), path);
    if (!meta.find("format") || meta.find("format")->as_string() != "mda-training-checkpoint")
      fail("not an mda training checkpoint");
    state.epochs_done = meta.find("epochs_done")->as_int();
    state.best_map = meta.find("best_validation_map")->as_double();
    state.history = meta.find("history")->clone();
  } catch (const c10::Error& e) {
    fail(path, ": unreadable training checkpoint (", e.what_without_backtrace(), ")");
  }
  return state;
}

std::string comparable_config(const std::string& yaml) {
  std::string out;
  bool in_training = false, in_evaluation = false;
  for (const std::string& line : split(yaml, '\n')) {
    if (!line.empty() && line[0] != ' ') {
      in_training = starts_with(line, "training:");
      in_evaluation = starts_with(line, "evaluation:");
    }
    if (in_evaluation || (in_training && starts_with(line, "  epochs:"))) continue;
    out += line + '\n';
  }
  return out;
}

}  // namespace mda
