#include "sct/io/torch_checkpoint.h"

#include <cstring>
#include <map>
#include <memory>
#include <utility>
#include <vector>

#include <ATen/ATen.h>

#include "sct/core/error.h"
#include "sct/io/little_endian.h"
#include "sct/io/zip_archive.h"

namespace sct {
namespace {

struct PyValue;
using PyRef = std::shared_ptr<PyValue>;

// The Python values a state dict's pickle is made of. Dicts keep insertion order as [k0, v0, k1, v1, ...].
struct PyValue {
  enum class Kind { None, Bool, Int, Float, String, Tuple, List, Dict, Global, Storage, Tensor, Object };
  Kind kind = Kind::None;
  int64_t i = 0;  // Bool, Int; Storage: its element count
  double f = 0;
  std::string s;  // String; Global: "module.name"; Storage: its key
  at::ScalarType dtype = at::kFloat;  // Storage
  std::vector<PyRef> items;
  at::Tensor tensor;
};

PyRef make(PyValue::Kind kind) {
  auto v = std::make_shared<PyValue>();
  v->kind = kind;
  return v;
}

at::ScalarType storage_dtype(const std::string& global, const std::string& where) {
  static const std::map<std::string, at::ScalarType> types = {
      {"torch.FloatStorage", at::kFloat},   {"torch.DoubleStorage", at::kDouble}, {"torch.HalfStorage", at::kHalf},
      {"torch.BFloat16Storage", at::kBFloat16}, {"torch.LongStorage", at::kLong},   {"torch.IntStorage", at::kInt},
      {"torch.ShortStorage", at::kShort},   {"torch.CharStorage", at::kChar},     {"torch.ByteStorage", at::kByte},
      {"torch.BoolStorage", at::kBool}};
  const auto it = types.find(global);
  if (it == types.end()) throw Error(where + ": unsupported storage type " + global);
  return it->second;
}

class Unpickler {
 public:
  Unpickler(const ZipArchive& zip, std::string prefix, const uint8_t* data, size_t size)
      : zip_(zip), prefix_(std::move(prefix)), data_(data), size_(size) {}

  PyRef run() {
    while (true) {
      const size_t at = pos_;
      const uint8_t op = byte();
      switch (op) {
        case 0x80: byte(); break;      // PROTO
        case 0x95: bytes(8); break;    // FRAME (protocol 4): a length hint
        case '}': push(make(PyValue::Kind::Dict)); break;
        case ']': push(make(PyValue::Kind::List)); break;
        case ')': push(make(PyValue::Kind::Tuple)); break;
        case 'N': push(make(PyValue::Kind::None)); break;
        case 0x88: push(integer(1, PyValue::Kind::Bool)); break;
        case 0x89: push(integer(0, PyValue::Kind::Bool)); break;
        case '(': marks_.push_back(stack_.size()); break;
        case 'q': memo_[byte()] = top(); break;
        case 'r': memo_[le<uint32_t>()] = top(); break;
        case 0x94: memo_[uint32_t(memo_.size())] = top(); break;  // MEMOIZE
        case 'h': push(memo(byte())); break;
        case 'j': push(memo(le<uint32_t>())); break;
        case 'K': push(integer(byte())); break;
        case 'M': push(integer(le<uint16_t>())); break;
        case 'J': push(integer(le<int32_t>())); break;
        case 0x8a: push(long1()); break;
        case 'G': push(binfloat()); break;
        case 'X': push(string(le<uint32_t>())); break;
        case 0x8c: push(string(byte())); break;  // SHORT_BINUNICODE
        case 0x8d: push(string(checked_size(le<uint64_t>()))); break;
        case 'T': case 'B': push(string(le<uint32_t>())); break;  // BINSTRING, BINBYTES
        case 'U': case 'C': push(string(byte())); break;          // SHORT_BINSTRING, SHORT_BINBYTES
        case 'c': {
          const std::string module = line(), name = line();
          push(global(module + "." + name));
          break;
        }
        case 0x93: {  // STACK_GLOBAL
          const PyRef name = pop(), module = pop();
          push(global(module->s + "." + name->s));
          break;
        }
        case 't': push(tuple(pop_mark())); break;
        case 0x85: push(tuple(pop_n(1))); break;
        case 0x86: push(tuple(pop_n(2))); break;
        case 0x87: push(tuple(pop_n(3))); break;
        case 'Q': push(storage(pop())); break;  // BINPERSID
        case 'R': {
          const PyRef args = pop(), callable = pop();
          push(reduce(*callable, *args));
          break;
        }
        case 0x81: {  // NEWOBJ: an instance of a class we do not build
          pop();
          pop();
          push(make(PyValue::Kind::Object));
          break;
        }
        case 'b': pop(); break;  // BUILD: object state (an OrderedDict's _metadata) is not needed
        case 's': {
          const PyRef value = pop(), key = pop();
          add_items(*top(), {key, value});
          break;
        }
        case 'u': {
          std::vector<PyRef> kv = pop_mark();
          add_items(*top(), std::move(kv));
          break;
        }
        case 'a': {
          const PyRef value = pop();
          add_items(*top(), {value});
          break;
        }
        case 'e': {
          std::vector<PyRef> values = pop_mark();
          add_items(*top(), std::move(values));
          break;
        }
        case '.': return pop();
        default:
          throw Error(where(at) + ": pickle opcode 0x" + hex(op) + " is not one torch.save writes (corrupt file?)");
      }
    }
  }

 private:
  std::string where(size_t at) const { return zip_.path() + ": data.pkl at byte " + std::to_string(at); }
  static std::string hex(uint8_t b) {
    static const char* digits = "0123456789abcdef";
    return std::string{digits[b >> 4], digits[b & 15]};
  }
  const uint8_t* bytes(size_t n) {
    if (n > size_ - pos_) throw Error(where(pos_) + ": the pickle ends early (truncated?)");
    const uint8_t* p = data_ + pos_;
    pos_ += n;
    return p;
  }
  uint8_t byte() { return *bytes(1); }
  template <typename T>
  T le() {
    return read_le<T>(bytes(sizeof(T)));
  }
  size_t checked_size(uint64_t n) {
    if (n > size_ - pos_) throw Error(where(pos_) + ": the pickle ends early (truncated?)");
    return size_t(n);
  }
  std::string line() {
    const size_t start = pos_;
    while (pos_ < size_ && data_[pos_] != '\n') ++pos_;
    if (pos_ == size_) throw Error(where(start) + ": the pickle ends early (truncated?)");
    return std::string(reinterpret_cast<const char*>(data_ + start), pos_++ - start);
  }

  void push(PyRef v) { stack_.push_back(std::move(v)); }
  PyRef pop() {
    if (stack_.empty() || (!marks_.empty() && stack_.size() == marks_.back()))
      throw Error(where(pos_) + ": the pickle pops an empty stack (corrupt file?)");
    PyRef v = std::move(stack_.back());
    stack_.pop_back();
    return v;
  }
  const PyRef& top() {
    if (stack_.empty()) throw Error(where(pos_) + ": the pickle reads an empty stack (corrupt file?)");
    return stack_.back();
  }
  std::vector<PyRef> pop_n(size_t n) {
    std::vector<PyRef> v(n);
    for (size_t i = n; i-- > 0;) v[i] = pop();
    return v;
  }
  std::vector<PyRef> pop_mark() {
    if (marks_.empty()) throw Error(where(pos_) + ": the pickle closes a mark it never opened (corrupt file?)");
    const size_t m = marks_.back();
    marks_.pop_back();
    std::vector<PyRef> v(std::make_move_iterator(stack_.begin() + std::ptrdiff_t(m)),
                         std::make_move_iterator(stack_.end()));
    stack_.resize(m);
    return v;
  }
  PyRef memo(uint32_t key) const {
    const auto it = memo_.find(key);
    if (it == memo_.end()) throw Error(where(pos_) + ": the pickle refers to memo " + std::to_string(key) + " it never stored");
    return it->second;
  }

  static PyRef integer(int64_t v, PyValue::Kind kind = PyValue::Kind::Int) {
    PyRef r = make(kind);
    r->i = v;
    return r;
  }
  PyRef long1() {
    const size_t n = byte();
    if (n > 8) throw Error(where(pos_) + ": an integer of " + std::to_string(n) + " bytes does not fit 64 bits");
    const uint8_t* p = bytes(n);
    uint64_t u = 0;
    for (size_t k = 0; k < n; ++k) u |= uint64_t(p[k]) << (8 * k);
    if (n > 0 && n < 8 && (p[n - 1] & 0x80)) u |= ~uint64_t(0) << (8 * n);  // sign-extend
    return integer(int64_t(u));
  }
  PyRef binfloat() {
    const uint8_t* p = bytes(8);
    uint64_t u = 0;
    for (int k = 0; k < 8; ++k) u = (u << 8) | p[k];  // big-endian
    PyRef r = make(PyValue::Kind::Float);
    std::memcpy(&r->f, &u, 8);
    return r;
  }
  PyRef string(size_t n) {
    PyRef r = make(PyValue::Kind::String);
    const uint8_t* p = bytes(n);
    r->s.assign(reinterpret_cast<const char*>(p), n);
    return r;
  }
  static PyRef global(std::string name) {
    PyRef r = make(PyValue::Kind::Global);
    r->s = std::move(name);
    return r;
  }
  static PyRef tuple(std::vector<PyRef> items) {
    PyRef r = make(PyValue::Kind::Tuple);
    r->items = std::move(items);
    return r;
  }
  void add_items(PyValue& target, std::vector<PyRef> items) {
    if (target.kind == PyValue::Kind::Object) return;  // an opaque object's contents are not needed
    if (target.kind == PyValue::Kind::Dict && items.size() % 2 != 0)
      throw Error(where(pos_) + ": a dict gets an odd number of keys and values (corrupt file?)");
    if (target.kind != PyValue::Kind::Dict && target.kind != PyValue::Kind::List)
      throw Error(where(pos_) + ": the pickle adds items to something that is not a dict or list (corrupt file?)");
    for (auto& v : items) target.items.push_back(std::move(v));
  }

  // ('storage', <storage type>, key, location, numel): the bytes live in the zip entry data/<key>.
  PyRef storage(const PyRef& pid) {
    const auto& t = pid->items;
    if (pid->kind != PyValue::Kind::Tuple || t.size() != 5 || t[0]->s != "storage" ||
        t[1]->kind != PyValue::Kind::Global || t[2]->kind != PyValue::Kind::String || t[4]->kind != PyValue::Kind::Int)
      throw Error(where(pos_) + ": a persistent id that is not a tensor storage");
    PyRef r = make(PyValue::Kind::Storage);
    r->dtype = storage_dtype(t[1]->s, where(pos_));
    r->s = t[2]->s;
    r->i = t[4]->i;
    return r;
  }

  at::Tensor storage_tensor(const PyValue& storage) {
    const auto cached = storages_.find(storage.s);
    if (cached != storages_.end()) return cached->second;
    const std::string entry_name = prefix_ + "data/" + storage.s;
    const ZipEntry* entry = zip_.find(entry_name);
    if (!entry) throw Error(zip_.path() + ": the pickle names storage '" + storage.s + "' but the file has no entry " + entry_name);
    const int64_t item = int64_t(c10::elementSize(storage.dtype));
    uint64_t bytes_needed = 0;
    if (storage.i < 0 || __builtin_mul_overflow(uint64_t(storage.i), uint64_t(item), &bytes_needed) ||
        bytes_needed != entry->uncompressed_size)
      throw Error(zip_.path() + ": entry " + entry_name + " holds " + std::to_string(entry->uncompressed_size) +
                  " bytes, not the " + std::to_string(storage.i) + " x " + std::to_string(item) + " its storage declares");
    const ZipBytes data = zip_.read(*entry);
    at::Tensor t = at::empty({storage.i}, at::TensorOptions().dtype(storage.dtype));
    if (data.size) std::memcpy(t.data_ptr(), data.data, data.size);
    storages_.emplace(storage.s, t);
    return t;
  }

  std::vector<int64_t> ints(const PyValue& v, const char* what) const {
    if (v.kind != PyValue::Kind::Tuple) throw Error(where(pos_) + ": a tensor's " + what + " is not a tuple");
    std::vector<int64_t> out;
    for (const auto& x : v.items) {
      if (x->kind != PyValue::Kind::Int) throw Error(where(pos_) + ": a tensor's " + what + " holds a non-integer");
      out.push_back(x->i);
    }
    return out;
  }

  // torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks[, metadata]).
  PyRef rebuild_tensor(const PyValue& args) {
    const auto& a = args.items;
    if (a.size() < 4 || a[0]->kind != PyValue::Kind::Storage || a[1]->kind != PyValue::Kind::Int)
      throw Error(where(pos_) + ": _rebuild_tensor_v2 called with unexpected arguments");
    const at::Tensor storage = storage_tensor(*a[0]);
    const int64_t offset = a[1]->i;
    const std::vector<int64_t> size = ints(*a[2], "size"), stride = ints(*a[3], "stride");
    if (size.size() != stride.size()) throw Error(where(pos_) + ": a tensor's size and stride differ in length");
    // The view must stay inside its storage: a corrupt stride must not read past it.
    int64_t last = offset, numel = 1;
    for (size_t d = 0; d < size.size(); ++d) {
      if (size[d] < 0 || stride[d] < 0) throw Error(where(pos_) + ": a tensor with a negative size or stride");
      numel *= size[d];
      if (size[d] > 0) last += (size[d] - 1) * stride[d];
    }
    if (offset < 0 || (numel > 0 && last >= storage.numel()))
      throw Error(where(pos_) + ": a tensor reaches past the end of its storage '" + a[0]->s + "'");
    PyRef r = make(PyValue::Kind::Tensor);
    r->tensor = storage.as_strided(size, stride, offset);
    if (!r->tensor.is_contiguous() || r->tensor.numel() != storage.numel()) r->tensor = r->tensor.clone();
    return r;
  }

  PyRef reduce(const PyValue& callable, const PyValue& args) {
    if (callable.kind == PyValue::Kind::Global) {
      if (callable.s == "collections.OrderedDict") return make(PyValue::Kind::Dict);
      if (callable.s == "torch._utils._rebuild_tensor_v2") return rebuild_tensor(args);
      if ((callable.s == "torch._utils._rebuild_parameter" ||
           callable.s == "torch._utils._rebuild_parameter_with_state") &&
          !args.items.empty() && args.items[0]->kind == PyValue::Kind::Tensor)
        return args.items[0];
    }
    return make(PyValue::Kind::Object);
  }

  const ZipArchive& zip_;
  const std::string prefix_;
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
  std::vector<PyRef> stack_;
  std::vector<size_t> marks_;
  std::map<uint32_t, PyRef> memo_;
  std::map<std::string, at::Tensor> storages_;
};

// The zip's single top-level folder name, with its slash ("archive/"), where data.pkl lives.
const ZipEntry* find_pickle(const ZipArchive& zip, std::string* prefix) {
  for (const ZipEntry& e : zip.entries()) {
    const size_t slash = e.name.find('/');
    if (slash != std::string::npos && e.name.compare(slash + 1, std::string::npos, "data.pkl") == 0) {
      *prefix = e.name.substr(0, slash + 1);
      return &e;
    }
  }
  return nullptr;
}

bool holds_tensors(const PyValue& dict) {
  for (size_t k = 1; k < dict.items.size(); k += 2)
    if (dict.items[k]->kind == PyValue::Kind::Tensor) return true;
  return false;
}

}  // namespace

bool is_torch_checkpoint(const std::string& path) {
  try {
    const ZipArchive zip(path);
    std::string prefix;
    return find_pickle(zip, &prefix) != nullptr;
  } catch (const Error&) {
    return false;
  }
}

TensorMap load_torch_checkpoint(const std::string& path) {
  const ZipArchive zip(path);
  std::string prefix;
  const ZipEntry* pickle = find_pickle(zip, &prefix);
  if (!pickle) throw Error(path + ": a zip archive without data.pkl: not a torch.save checkpoint");
  const ZipBytes bytes = zip.read(*pickle);
  const PyRef root = Unpickler(zip, prefix, bytes.data, bytes.size).run();
  if (root->kind != PyValue::Kind::Dict) throw Error(path + ": the checkpoint holds no dict of tensors");
  const PyValue* state = holds_tensors(*root) ? root.get() : nullptr;
  for (const char* key : {"model", "state_dict", "model_ema"})
    for (size_t k = 0; !state && k + 1 < root->items.size(); k += 2)
      if (root->items[k]->s == key && root->items[k + 1]->kind == PyValue::Kind::Dict)
        state = root->items[k + 1].get();
  if (!state) throw Error(path + ": no state dict in the checkpoint (looked for the tensors at the top, under 'model', 'state_dict' and 'model_ema')");
  TensorMap out;
  for (size_t k = 0; k + 1 < state->items.size(); k += 2) {
    const PyValue& key = *state->items[k];
    const PyValue& value = *state->items[k + 1];
    if (value.kind != PyValue::Kind::Tensor) continue;
    if (key.kind != PyValue::Kind::String) throw Error(path + ": a state dict key that is not a string");
    if (!out.emplace(key.s, value.tensor).second) throw Error(path + ": tensor '" + key.s + "' appears twice");
  }
  return out;
}

}  // namespace sct
