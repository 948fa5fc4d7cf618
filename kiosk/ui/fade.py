"""The fade between screens: a picture of the old screen fades out over the new one, drawn live.

A true cross-fade (each screen fades as one picture, not widget by widget) with as little
drawing per frame as it allows. Kivy's FadeTransition draws both screens into two new
full-screen buffers for every fade, compiles its shader again, and blends the buffers with it;
in software GL that set-up made the first frame of each fade twice the 16.7 ms budget. Here:

- one buffer, made once, holds a picture of the old screen, drawn into it on the fade's first
  frame (which shows nothing else: the picture covers the whole screen);
- from the second frame the new screen is drawn as it always is, under the picture, whose
  opacity falls from 1 to 0. So no frame draws both screens, and the new screen is live:
  a status that changes it during the fade shows at once.
"""

from __future__ import annotations

import weakref

from kivy.core.window import Window
from kivy.graphics import (
    ClearBuffers,
    ClearColor,
    Color,
    Fbo,
    InstructionGroup,
    PopMatrix,
    PushMatrix,
    Rectangle,
    Translate,
)
from kivy.properties import ObjectProperty
from kivy.uix.screenmanager import TransitionBase


class PictureFade(TransitionBase):
    # Kivy keeps the last fade's two screens here; None lets the kiosk forget one it lets go.
    screen_in = ObjectProperty(None, allownone=True)
    screen_out = ObjectProperty(None, allownone=True)

    def __init__(self, *, background, **kwargs):
        super().__init__(**kwargs)
        self.background = tuple(background)
        self._size: tuple[int, int] | None = None
        self._old: Fbo | None = None  # the old screen's picture
        self._shift: Translate | None = None
        self._veil: Color | None = None  # the picture's opacity
        self._picture: Rectangle | None = None
        self._drawn = InstructionGroup()  # the picture as drawn over the manager's screens
        self._rehearsing = None  # a screen drawn unseen for one frame
        self.rehearsed = weakref.WeakSet()  # once is enough (a screen let go is forgotten)

    def _make(self, size: tuple[int, int]) -> None:
        self._size = size
        self._old = Fbo(size=size)  # no stencil: no screen here clips with one
        with self._old:
            ClearColor(*self.background)
            ClearBuffers()
        with self._old.before:
            PushMatrix()
            self._shift = Translate()
        with self._old.after:
            PopMatrix()
        self._drawn = InstructionGroup()
        self._drawn.add(self._old)
        self._veil = Color(1, 1, 1, 1)
        self._drawn.add(self._veil)
        self._picture = Rectangle(size=size, texture=self._old.texture)
        self._drawn.add(self._picture)
        self._drawn.add(Color(1, 1, 1, 1))  # nothing drawn after the picture inherits its veil

    def forget(self, screen) -> None:
        """Hold on to nothing of `screen`, which the kiosk is letting go (never mid-fade)."""
        self.rehearsed.discard(screen)
        if self.screen_in is screen:
            self.screen_in = None
        if self.screen_out is screen:
            self.screen_out = None

    def _into_picture(self, screen) -> None:
        """Let `screen` draw into the picture (made to the manager's size), from its corner."""
        size = (int(self.manager.width), int(self.manager.height))
        if size != self._size:
            self._make(size)
        self._shift.xy = (-screen.x, -screen.y)
        self._old.add(screen.canvas)

    def rehearse(self, screen) -> None:
        """Draw `screen` once, unseen, both ways a fade draws it: into the picture, and on the
        panel (fully transparent, under the current screen, for one frame). Its first fade then
        pays none of a first drawing's costs: in software GL, compiling the drawing code for
        what it shows, which made those two frames the slowest a customer saw."""
        manager = self.manager
        self._end_rehearsal()
        if manager is None or self.is_active or screen.parent is not None or screen in self.rehearsed:
            return
        self.rehearsed.add(screen)
        screen.pos, screen.size = manager.pos, manager.size
        self._into_picture(screen)
        self._old.draw()
        self._old.remove(screen.canvas)
        screen.opacity = 0.0
        manager.canvas.insert(0, screen.canvas)
        self._picture.pos, self._veil.a = manager.pos, 0.0  # the picture too, as clear as glass
        manager.canvas.add(self._drawn)
        self._rehearsing = screen
        Window.bind(on_flip=self._end_rehearsal)

    def _end_rehearsal(self, *_) -> None:
        screen, self._rehearsing = self._rehearsing, None
        if screen is None:
            return
        Window.unbind(on_flip=self._end_rehearsal)
        for drawn in (screen.canvas, self._drawn):
            if drawn in self.manager.canvas.children:
                self.manager.canvas.remove(drawn)
        screen.opacity = 1.0

    def add_screen(self, screen):
        self._end_rehearsal()
        manager, out = self.manager, self.screen_out
        screen.pos, screen.size = out.pos, out.size
        manager.real_remove_widget(out)
        self._into_picture(out)
        self._picture.pos = out.pos
        self._veil.a = 1.0
        manager.canvas.add(self._drawn)

    def on_progress(self, progress):
        manager = self.manager
        if progress > 0 and self.screen_in.parent is None:
            # The new screen from the second frame on, under the picture.
            manager.real_add_widget(self.screen_in)
            manager.canvas.remove(self._drawn)
            manager.canvas.add(self._drawn)
        self._veil.a = 1.0 - progress

    def remove_screen(self, screen):
        manager = self.manager
        if self._drawn in manager.canvas.children:
            manager.canvas.remove(self._drawn)
        if self.screen_out.canvas in self._old.children:
            self._old.remove(self.screen_out.canvas)
        if self.screen_in.parent is None:
            manager.real_add_widget(self.screen_in)
