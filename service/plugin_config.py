"""The Background Remover's plugin config (domain spec sections 2, 3 and 8.1)."""

from __future__ import annotations

from typing import Any

BACKGROUND_REMOVER_CONFIG: dict[str, Any] = {
    "appId": "background-remover",
    "name": "Background Remover Pro",
    "description": "AI-powered background removal with 4 quality tiers",
    "icon": "eraser",
    "version": "1.0.0",
    "routePrefix": "/api/background-remover",
    "credits": {
        "basic": 3,
        "standard": 8,
        "professional": 15,
        "industry": 25,
        "subscriptionStarter": 99000,
        "subscriptionPro": 299000,
    },
    "access": {
        "requiresAuth": True,
        "requiresSubscription": False,
        "minSubscriptionTier": None,
        "allowedRoles": ["user", "admin"],
    },
    "features": {"enabled": True, "beta": False, "comingSoon": False},
    "dashboard": {
        "order": 15,
        "color": "purple",
        "stats": {"enabled": True, "endpoint": "/api/background-remover/stats"},
    },
    "tiers": {
        "basic": {"credits": 3, "description": "Fast background removal for simple images"},
        "standard": {"credits": 8, "description": "Enhanced quality for complex backgrounds"},
        "professional": {
            "credits": 15,
            "description": "High-precision removal with priority processing",
        },
        "industry": {"credits": 25, "description": "Premium quality with highest priority"},
    },
    "discounts": [
        {"min": 20, "max": 50, "percentage": 5},
        {"min": 51, "max": 100, "percentage": 10},
        {"min": 101, "max": 200, "percentage": 15},
        {"min": 201, "max": 500, "percentage": 20},
    ],
    "subscriptionPlans": {
        "starter": {
            "name": "Starter",
            "price": 99000,
            "dailyQuota": 50,
            "professionalDailyQuota": 0,
            "allowedTiers": ["basic", "standard"],
        },
        "pro": {
            "name": "Pro",
            "price": 299000,
            "dailyQuota": 200,
            "professionalDailyQuota": 50,
            "allowedTiers": ["basic", "standard", "professional", "industry"],
        },
    },
    "batch": {
        "maxFiles": 500,
        "allowedFormats": ["image/jpeg", "image/png", "image/webp"],
        "maxFileSize": 10485760,
        "concurrency": {"min": 5, "max": 20},
    },
}

PLUGINS: list[dict[str, Any]] = [BACKGROUND_REMOVER_CONFIG]
