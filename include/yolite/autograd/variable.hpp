// autograd/variable.hpp -- the tape: Var<T>, Node<T>, backward(), NoGradGuard.
//
// The idea (micrograd's, at tensor granularity): every differentiable op returns a Var whose
// Node remembers its parents and a closure that, given the Node's gradient, ADDS (+=) the
// gradients of its parents. backward() orders the graph topologically and runs the closures
// from the output back to the leaves. Leaves (parameters, inputs) keep their .grad; inner
// nodes free their gradient and captured activations as soon as their closure has run, so
// memory drops while the sweep goes.
//
//   Var<double> a(Tensor<double>({2}, 3.0), /*requires_grad=*/true);
//   Var<double> b = ag::mul(a, a);             // records a node
//   ag::sum(b).backward();                     // a.grad() == 2*a
//
// Recording happens only when grad mode is on and some input requires grad. NoGradGuard turns
// grad mode off for the calling thread for its lifetime (inference, EMA, metrics).
#pragma once
#include <functional>
#include <memory>
#include <unordered_set>
#include <utility>
#include <vector>

#include "../core/tensor.hpp"

namespace yolite {

namespace internal {
inline bool& grad_mode_flag() {
  thread_local bool enabled = true;  // per thread, like torch's grad mode
  return enabled;
}
}  // namespace internal

inline bool grad_enabled() { return internal::grad_mode_flag(); }

// RAII: no graph is recorded on this thread while a NoGradGuard lives.
class NoGradGuard {
 public:
  NoGradGuard() : prev_(internal::grad_mode_flag()) { internal::grad_mode_flag() = false; }
  ~NoGradGuard() { internal::grad_mode_flag() = prev_; }
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool prev_;
};

template <class T>
struct Node {
  Tensor<T> value;
  Tensor<T> grad;  // undefined until something flows into it
  bool requires_grad = false;
  const char* op = "leaf";
  std::vector<std::shared_ptr<Node>> parents;
  std::function<void(Node&)> backward_fn;  // reads this->grad, += into parents' grads
                                            // (or = into a fresh one: grad_for_write)

  // True until something has flowed into this node's gradient.
  bool grad_empty() const { return !grad.defined() || grad.shape() != value.shape(); }
  // The gradient buffer, zero-filled on first use.
  Tensor<T>& grad_buf() {
    if (grad_empty()) grad = Tensor<T>(value.shape());
    return grad;
  }
  bool is_leaf() const { return !backward_fn; }
};

template <class T>
class Var {
 public:
  Var() = default;
  explicit Var(Tensor<T> value, bool requires_grad = false) : node_(std::make_shared<Node<T>>()) {
    node_->value = std::move(value);
    node_->requires_grad = requires_grad;
  }
  explicit Var(std::shared_ptr<Node<T>> n) : node_(std::move(n)) {}

  bool defined() const { return node_ != nullptr; }
  const Tensor<T>& value() const { return node_->value; }
  Tensor<T>& value() { return node_->value; }
  const Shape& shape() const { return node_->value.shape(); }
  Tensor<T>& grad() { return node_->grad; }
  const Tensor<T>& grad() const { return node_->grad; }
  bool requires_grad() const { return node_ && node_->requires_grad; }
  void set_requires_grad(bool r) { node_->requires_grad = r; }
  void zero_grad() { node_->grad = Tensor<T>(); }
  const std::shared_ptr<Node<T>>& node() const { return node_; }
  const char* op() const { return node_->op; }

  // Backpropagates from this Var, which must hold a single element (a loss), seeding 1.
  void backward() {
    YOLITE_CHECK(value().numel() == 1, "backward(): output has shape ", shape().str(),
                 "; pass a seed gradient for non-scalar outputs");
    Tensor<T> seed(shape());
    seed[0] = T(1);
    backward(seed);
  }
  // Backpropagates with an explicit seed gradient of this Var's shape.
  void backward(const Tensor<T>& seed) {
    value().check_same_shape(seed, "backward(seed)");
    if (!requires_grad()) return;
    auto order = topo_order();
    Tensor<T>& g = node_->grad_buf();
    for (int64_t i = 0; i < g.numel(); ++i) g[i] += seed[i];
    for (auto it = order.rbegin(); it != order.rend(); ++it) {
      Node<T>& n = **it;
      if (n.is_leaf()) continue;
      if (n.grad.defined()) n.backward_fn(n);
      // free what this inner node held: its gradient, closure and captured activations
      n.grad = Tensor<T>();
      n.backward_fn = nullptr;
      n.parents.clear();
    }
  }

 private:
  // Nodes that require grad, parents before children (iterative DFS: deep graphs are fine).
  // Holds shared_ptrs: clearing a node's parents during the sweep must not free nodes still
  // waiting in the order.
  std::vector<std::shared_ptr<Node<T>>> topo_order() const {
    std::vector<std::shared_ptr<Node<T>>> order;
    std::unordered_set<Node<T>*> seen;
    std::vector<std::pair<std::shared_ptr<Node<T>>, size_t>> stack{{node_, 0}};
    seen.insert(node_.get());
    while (!stack.empty()) {
      auto& [n, next] = stack.back();
      if (next < n->parents.size()) {
        std::shared_ptr<Node<T>> p = n->parents[next++];
        if (p->requires_grad && seen.insert(p.get()).second) stack.push_back({p, 0});
      } else {
        order.push_back(n);
        stack.pop_back();
      }
    }
    return order;
  }

  std::shared_ptr<Node<T>> node_;
};

namespace ag {

// Builds the result Var of an op. When grad mode is on and any parent requires grad, the
// node records its parents and the backward closure `fn(Node<T>& self)`; otherwise the result
// is a plain constant and `fn` is dropped.
template <class T, class F>
Var<T> make_result(Tensor<T> value, std::vector<Var<T>> parents, const char* op, F&& fn) {
  Var<T> out(std::move(value));
  out.node()->op = op;
  if (!grad_enabled()) return out;
  bool any = false;
  for (auto& p : parents) any = any || p.requires_grad();
  if (!any) return out;
  auto& n = *out.node();
  n.requires_grad = true;
  for (auto& p : parents) n.parents.push_back(p.node());
  n.backward_fn = std::forward<F>(fn);
  return out;
}

// Adds g into the gradient of `parent` (input i of `self`) when that input requires grad.
template <class T>
Tensor<T>* grad_of(Node<T>& self, size_t i) {
  Node<T>& p = *self.parents[i];
  return p.requires_grad ? &p.grad_buf() : nullptr;
}

// Like grad_of, for ops that can overwrite: when nothing has flowed into input i's gradient yet,
// the buffer is allocated uninitialised and *fresh is set -- the op must then WRITE every
// element (=) instead of adding (+=), which saves zero-filling the buffer and reading it back.
// Otherwise *fresh = false and the op accumulates as usual.
template <class T>
Tensor<T>* grad_for_write(Node<T>& self, size_t i, bool* fresh) {
  Node<T>& p = *self.parents[i];
  *fresh = false;
  if (!p.requires_grad) return nullptr;
  if (p.grad_empty()) {
    p.grad = Tensor<T>::uninit(p.value.shape());
    *fresh = true;
  }
  return &p.grad;
}

}  // namespace ag
}  // namespace yolite
