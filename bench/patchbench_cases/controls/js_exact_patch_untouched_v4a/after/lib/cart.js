'use strict';

const TAX_RATE = 0.2;

class Cart {
  constructor(currency = 'EUR') {
    this.currency = currency;
    this.items = [];
  }

  add(product, quantity = 1) {
    if (quantity <= 0) {
      throw new RangeError('quantity must be positive');
    }
    const existing = this.items.find((item) => item.product.id === product.id);
    if (existing) {
      existing.quantity += quantity;
    } else {
      this.items.push({ product, quantity });
    }
    return this;
  }

  remove(productId) {
    this.items = this.items.filter((item) => item.product.id !== productId);
    return this;
  }

  subtotal() {
    return this.items.reduce((sum, item) => sum + item.product.price * item.quantity, 0);
  }

  total() {
    const subtotal = this.subtotal();
    return Math.round(subtotal * (1 + TAX_RATE) * 100) / 100;
  }

  toJSON() {
    return {
      currency: this.currency,
      items: this.items.map((item) => ({
        id: item.product.id,
        quantity: item.quantity,
      })),
      total: this.total(),
    };
  }
}

function formatPrice(amount, currency) {
  return new Intl.NumberFormat('en-GB', { style: 'currency', currency }).format(amount);
}

module.exports = { Cart, formatPrice, TAX_RATE };
