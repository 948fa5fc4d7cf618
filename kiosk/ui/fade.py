"""The fade between screens: the old screen fades out over the new one, both drawn live.

Kivy's FadeTransition draws both screens into two new full-screen buffers for every fade and
blends them with a shader of its own. Here nothing is made for a fade: the new screen is drawn
as it always is and the old one over it, its opacity falling from 1 to 0 (Kivy applies a
widget's opacity to every colour it draws). The new screen is live from the first frame, and
the software renderer keeps no picture of a screen (1.5 MB at 800x480) and no second shader
program with its own compiled drawing code.

Where the old screen's own parts overlap (words on a button), the fading words keep a trace of
the button under them: for the fifth of a second a fade lasts, it cannot be seen.
"""

from __future__ import annotations

import weakref

from kivy.core.window import Window
from kivy.properties import ObjectProperty
from kivy.uix.screenmanager import TransitionBase


class CrossFade(TransitionBase):
    # Kivy keeps the last fade's two screens here; None lets the kiosk forget one it lets go.
    screen_in = ObjectProperty(None, allownone=True)
    screen_out = ObjectProperty(None, allownone=True)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._rehearsing = None  # a screen drawn unseen for one frame
        self.rehearsed = weakref.WeakSet()  # once is enough (a screen let go is forgotten)

    def forget(self, screen) -> None:
        """Hold on to nothing of `screen`, which the kiosk is letting go (never mid-fade)."""
        self.rehearsed.discard(screen)
        if self.screen_in is screen:
            self.screen_in = None
        if self.screen_out is screen:
            self.screen_out = None

    def rehearse(self, screen) -> None:
        """Draw `screen` once, unseen (fully transparent, under the current screen, for one
        frame). Its first fade then pays none of a first drawing's costs: in software GL,
        compiling the drawing code for what it shows, which made that frame the slowest a
        customer saw."""
        manager = self.manager
        self._end_rehearsal()
        if manager is None or self.is_active or screen.parent is not None or screen in self.rehearsed:
            return
        self.rehearsed.add(screen)
        screen.pos, screen.size = manager.pos, manager.size
        screen.opacity = 0.0
        manager.canvas.insert(0, screen.canvas)
        self._rehearsing = screen
        Window.bind(on_flip=self._end_rehearsal)

    def _end_rehearsal(self, *_) -> None:
        screen, self._rehearsing = self._rehearsing, None
        if screen is None:
            return
        Window.unbind(on_flip=self._end_rehearsal)
        if screen.canvas in self.manager.canvas.children:
            self.manager.canvas.remove(screen.canvas)
        screen.opacity = 1.0

    def add_screen(self, screen):
        self._end_rehearsal()
        manager, out = self.manager, self.screen_out
        screen.pos, screen.size = out.pos, out.size
        manager.real_remove_widget(out)
        manager.real_add_widget(screen)
        manager.real_add_widget(out)  # over the new screen, fading out

    def on_progress(self, progress):
        self.screen_out.opacity = 1.0 - progress

    def remove_screen(self, screen):
        self.manager.real_remove_widget(screen)
        screen.opacity = 1.0
